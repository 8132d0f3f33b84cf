"""Name matching rules: surnames, possessives, fuzzy misspellings, prose, add/remove/rename."""

from __future__ import annotations

from pathlib import Path

import pytest

from stylegate.governance.decision import Action
from stylegate.governance.gate import PolicyGate
from stylegate.governance.matching.view import build_view
from stylegate.governance.policy import load_policy
from stylegate.governance.screening.names import NameMatcher
from stylegate.registry.store import RegistryStore, sqlite_url

ARTISTS = [
    (1, "Simon Stalenhag"),
    (2, "Ruth Baker"),
    (3, "Mira Okonkwo"),
    (3, "M. Okonkwo"),
    (4, "Li Wu"),
    (5, "Quillfeather"),
    (6, "Banksy"),
    (7, "Amara Lindqvist-Osei"),
]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(ARTISTS)


def found(matcher: NameMatcher, prompt: str) -> list[tuple[int, str]]:
    return [(h.artist_id, h.how) for h in matcher.find(prompt)]


@pytest.mark.parametrize(
    "prompt, how",
    [
        ("a robot by Simon Stalenhag", "exact"),
        ("Stalenhag, Simon: a robot", "reversed"),
        ("Simon Stalenhag's robots", "possessive"),
        ("Simon Stalenhags robots", "possessive"),
        ("a robot by Stalenhag", "surname"),
        ("Stalenhag’s robots", "surname"),
        ("a robot by Simon Stalenhga", "fuzzy"),  # transposition
        ("a robot by Simon Stalnhag", "fuzzy"),  # deletion
        ("a robot by Simon Stalenhaag", "fuzzy"),  # insertion
        ("a robot by Simon Stelenhag", "fuzzy"),  # substitution
        ("a robot by Simno Stalenhag", "fuzzy"),
        ("a robot by SimonStalenhga", "fuzzy"),
        ("a robot by Stalenhga Simon", "fuzzy"),  # misspelt and reversed
    ],
)
def test_name_variants_are_found_with_how_they_matched(matcher: NameMatcher, prompt: str, how: str) -> None:
    assert found(matcher, prompt) == [(1, how)]


def test_multi_word_surnames_may_come_first(matcher: NameMatcher) -> None:
    assert found(matcher, "Lindqvist-Osei, Amara style") == [(7, "reversed")]
    assert found(matcher, "Osei Lindqvist Amara") == [(7, "reversed")]
    assert found(matcher, "by Lindqvist-Osei") == [(7, "surname")]


def test_fuzzy_score_is_one_minus_edits_over_length(matcher: NameMatcher) -> None:
    (hit,) = matcher.find("by Simon Stalenhga")
    assert hit.score == pytest.approx(1 - 1 / len("simonstalenhag"))
    assert matcher.find("by Stalenhag")[0].score == pytest.approx(0.9)


@pytest.mark.parametrize(
    "prompt",
    [
        "a baker kneading dough",  # a surname that is a common word never stands alone
        "Ruth bakes bread",  # one edit from "Ruth Baker", but ordinary words
        "Li Wo at the market",  # names under six letters never match fuzzily
        "river banks at dawn",  # "banks" is one edit from "Banksy" but an English word
        "a quill feather on a desk",  # spaced ordinary words are not the one-word name
        "Okonkwa",  # surnames alone never match fuzzily
        "a photo of Chinedu Okonkwo",  # someone else with the same surname
        "a portrait of Mira",  # a given name alone
        "Osei Kofi's boots",  # part of a hyphenated surname
    ],
)
def test_near_misses_do_not_match(matcher: NameMatcher, prompt: str) -> None:
    assert found(matcher, prompt) == []


@pytest.mark.parametrize("prompt", ["QuillFeather poster", "quill_feather poster", "q u i l l f e a t h e r"])
def test_a_one_word_name_still_matches_when_split_by_an_attack(matcher: NameMatcher, prompt: str) -> None:
    assert found(matcher, prompt) == [(5, "exact")]


def test_initials_in_an_alias_do_not_make_the_surname_fuzzy(matcher: NameMatcher) -> None:
    # "okonkwo" is one deletion from the alias key "mokonkwo": only the surname rule may fire.
    assert found(matcher, "a cat by Okonkwo") == [(3, "surname")]


def test_an_exact_name_beats_a_fuzzy_reading_for_another_artist() -> None:
    m = NameMatcher([(1, "Anna Smithers"), (2, "Ann Smithers")])
    assert found(m, "by Anna Smithers") == [(1, "exact")]
    assert found(m, "by Ann Smithers") == [(2, "exact")]


def test_shared_or_ambiguous_surnames_do_not_stand_alone() -> None:
    m = NameMatcher([(1, "Mira Okonkwo"), (2, "Emeka Okonkwo"), (3, "Tenwick Hale"), (4, "Saoirse Tenwick")])
    assert found(m, "by Okonkwo") == []  # two artists share it
    assert found(m, "by Tenwick") == []  # another artist's given name
    m.remove(2)
    assert found(m, "by Okonkwo") == [(1, "surname")]


def test_every_artist_of_a_multi_artist_prompt_is_found(matcher: NameMatcher) -> None:
    hits = matcher.find("Simon Stalenhga meets Mira Okonkwo, Li Wu and QuillFeather, by Lindqvist-Osei")
    assert {h.artist_id for h in hits} == {1, 3, 4, 5, 7}


def test_remove_and_replace_take_effect_on_the_next_find() -> None:
    m = NameMatcher([(1, "Simon Stalenhag"), (2, "Mira Okonkwo"), (2, "Stalenhag Simon")])
    m.remove(1)
    assert found(m, "by Simon Stalenhag") == [(2, "reversed")]  # artist 2's alias, reversed
    m.remove(2)
    assert m.find("by Simon Stalenhag") == [] and m.find("by Simon Stalenhga") == [] and len(m) == 0
    m.add(3, "Simon Stalenhag")
    m.replace(3, ["Simone Stalenberg"])
    assert found(m, "by Simone Stalenberg") == [(3, "exact")]
    assert m.find("by Simon Stalenhag") == [] and m.find("by Stalenhag") == []


def test_registry_changes_reach_the_gate_without_a_restart(tmp_path: Path) -> None:
    store = RegistryStore.open(sqlite_url(tmp_path / "registry.db"))
    policy = load_policy()

    def check(prompt: str) -> Action:
        return PolicyGate(policy, None, build_view(store, None)).check_prompt(prompt).action

    try:
        artist = store.add_artist("Simon Stalenhag", consent="opt-out")
        assert check("a robot by Simon Stalenhag") is Action.BLOCK
        store.update_artist(artist.id, name="Simone Stalenberg", aliases=["S. Berg"])
        assert check("a robot by Simon Stalenhag") is Action.ALLOW
        assert check("a robot by Simone Stalenberg") is Action.BLOCK
        assert check("a robot by S. Berg") is Action.BLOCK
        store.remove_artist(artist.id)
        assert check("a robot by Simone Stalenberg") is Action.ALLOW
    finally:
        store.close()


def test_a_lone_surname_before_a_place_noun_needs_a_cue() -> None:
    matcher = NameMatcher([(1, "Joaquín Sorolla"), (2, "Yayoi Kusama")])
    assert matcher.find("Sorolla street sign in Valencia") == []
    assert matcher.find("Kusama station on a rainy day") == []
    assert [h.artist_id for h in matcher.find("a beach at noon by Sorolla")] == [1]
    assert [h.artist_id for h in matcher.find("Sorolla street in the style of Kusama")] == [2]
    assert [h.artist_id for h in matcher.find("Joaquín Sorolla street scene")] == [1]  # a full name stands


def test_a_whole_tag_in_a_list_naming_an_art_site_is_a_style_tag() -> None:
    matcher = NameMatcher([(1, "Greg Rutkowski")])
    assert [h.artist_id for h in matcher.find("castle, rutkowski, artstation")] == [1]
    assert matcher.find("castle, rutkowski street, artstation") == []
    assert matcher.find("castle at night, rutkowski") == []  # no site: a common Polish surname alone
