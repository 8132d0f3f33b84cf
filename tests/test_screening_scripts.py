"""Names in every script, across scripts, inflected, misspelt, and common words in context."""

from __future__ import annotations

import pytest

from stylegate.errors import InputError, InvalidName, PolicyError
from stylegate.governance.decision import Action
from stylegate.governance.gate import PolicyGate
from stylegate.governance.matching.view import RegistryView, build_names
from stylegate.governance.policy import default_policy_text, load_policy, parse_policy
from stylegate.governance.screening.canonical import name_key, tokenize
from stylegate.governance.screening.claims import claim_keys, validate_label
from stylegate.governance.screening.names import NameMatcher
from stylegate.governance.screening.rules import DEFAULT_RULES, NameRules
from stylegate.registry.models import Artist, Consent


def who(matcher: NameMatcher, prompt: str, rules: NameRules | None = None) -> list[tuple[int, str]]:
    return [(h.artist_id, h.how) for h in matcher.find(prompt, rules=rules)]


# ------------------------------------------------------------------ every script survives
@pytest.mark.parametrize(
    "label",
    ["Кувшинова", "Γιάννης Τσαρούχης", "宮崎駿", "ミヤザキ", "봉준호", "محمود سعيد", "राजा रवि वर्मा", "ราชา รวิ", "Zoë Ångström-Vail"],
)
def test_every_letter_of_a_name_in_any_script_reaches_its_key(label: str) -> None:
    key = validate_label(label)
    letters = [c for c in label if c.isalpha()]
    assert key and len("".join(key)) >= len(letters) - label.count(" ")  # nothing folded away
    assert claim_keys(label)  # and it can be claimed


def test_an_honest_cyrillic_word_stays_cyrillic_but_a_disguised_latin_one_folds() -> None:
    assert name_key("Кувшинова") == ("кувшинова",)
    assert name_key("Mirа Okonkwo") == name_key("Mira Okonkwo")  # Cyrillic "а" inside a Latin word
    assert name_key("Μira Οκօոκԝο") == name_key("Mira Okonkwo")  # Greek, Armenian and Cyrillic look-alikes


def test_thai_vowel_marks_stay_with_their_letters() -> None:
    assert [t.text for t in tokenize("รวิ")] == ["ร", "วิ"]  # one token per letter, its vowel sign kept


@pytest.mark.parametrize(
    "label, why",
    [("🎨🎨", "no letters"), ("---", "no letters"), ("X", "shorter than"), ("   ", "empty")],
)
def test_unusable_labels_are_refused_with_a_reason(label: str, why: str) -> None:
    with pytest.raises(InvalidName, match=why) as err:
        claim_keys(label)
    assert isinstance(err.value, InputError) and repr(label) in str(err.value)


def test_claim_keys_fold_case_spacing_diacritics_and_look_alikes() -> None:
    plain = claim_keys("Mira Okonkwo")
    assert claim_keys("MIRA  okonkwo") == plain == claim_keys("Mirа Okonkwo") == claim_keys("Mïra Okonkwó")
    assert claim_keys("Amara Lindqvist-Osei") == claim_keys("Amara Lindqvist Osei")
    assert claim_keys("Mira Okonkwe") != plain
    assert claim_keys("Кувшинова") == {"кувшинова", "kuvshinova"}
    assert "kuvshinova" in claim_keys("Kuvshinova")  # so the Latin and Cyrillic claims collide


# ------------------------------------------------------------------ unspaced scripts, other scripts
@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(
        [
            (1, "Hayao Miyazaki"), (1, "宮崎駿"),
            (2, "Ivan Aivazovsky"),
            (3, "Илья Кувшинов"),
            (4, "Greg Rutkowski"),
            (5, "Кувшинова"),
            (6, "Kay Nielsen"),
            (7, "Queen"),
            (8, "Heart"),
            (9, "Monet"),
            (10, "Qi Baishi"),
            (11, "Jacek Yerka"),
        ]
    )


@pytest.mark.parametrize("prompt", ["宮崎駿風の森", "森の中の宮崎駿", "a forest, 宮崎駿"])
def test_a_name_in_an_unspaced_script_is_found_inside_text(matcher: NameMatcher, prompt: str) -> None:
    assert who(matcher, prompt) == [(1, "exact")]


def test_unspaced_text_without_the_name_does_not_match(matcher: NameMatcher) -> None:
    assert matcher.find("宮崎の海岸と森") == []  # the place Miyazaki, not the artist's full name


@pytest.mark.parametrize(
    "prompt, artist",
    [
        ("Иван Айвазовский, девятый вал", 2),  # registered in Latin, written in Cyrillic
        ("a girl by Ilya Kuvshinov", 3),  # registered in Cyrillic, written in Latin
        ("齐白石风格的虾", 10),  # pinyin registration, Han characters in the prompt
        ("ミヤザキハヤオ風の森", 1),  # kana
    ],
)
def test_names_are_matched_across_scripts_through_transliteration(matcher: NameMatcher, prompt: str, artist: int) -> None:
    hits = matcher.find(prompt)
    assert [h.artist_id for h in hits] == [artist]
    assert hits[0].via == "transliteration"


def test_russian_kh_is_also_read_as_h() -> None:
    matcher = NameMatcher([(1, "Edward Hopper"), (2, "Ivan Shishkin")])
    hits = matcher.find("Эдвард Хоппер, ночное кафе")  # anyascii alone reads "edvard khopper"
    assert [(h.artist_id, h.via) for h in hits] == [(1, "transliteration")]
    assert matcher.find("Хорошая погода, ночное кафе") == []


def test_katakana_spellings_of_foreign_names_are_read_back() -> None:
    matcher = NameMatcher([(1, "Ilya Kuvshinov"), (2, "Kazimir Malevich")])
    hits = matcher.find("イリヤ・クブシノブ風の少女")  # i-ri-ya ku-bu-shi-no-bu
    assert [(h.artist_id, h.how, h.via) for h in hits] == [(1, "phonetic", "transliteration")]
    assert matcher.find("カブシナブ風の少女") == []  # the same consonant classes, other vowels
    # The surname alone is not the full name's spelling; it is the skeleton rule's surname
    # form, next to its style cue only.
    alone = matcher.find("クブシノブ風の少女")
    assert [(h.artist_id, h.how, h.cue) for h in alone] == [(1, "skeleton-surname", "風")]
    assert matcher.find("クブシノブの少女") == []


# ------------------------------------------------------------------ inflections
@pytest.mark.parametrize(
    "prompt, artist",
    [
        ("smok w stylu Rutkowskiego", 4),
        ("obraz w stylu Grega Rutkowskiego", 4),
        ("портрет в стиле Кувшиновой", 5),
        ("dom w stylu Jacka Yerki", 11),  # an ending that replaces a letter, after the given name
    ],
)
def test_case_endings_on_a_surname_are_matched(matcher: NameMatcher, prompt: str, artist: int) -> None:
    hits = matcher.find(prompt)
    assert artist in {h.artist_id for h in hits} and {h.how for h in hits} == {"inflection"}
    # ("Кувшиновой" is also a declined "Кувшинов": artist 3 is found beside artist 5 there)
    assert {h.artist_id for h in hits} <= {artist, 3}


@pytest.mark.parametrize("prompt", ["monetary policy report", "Yerki at dawn", "Rutkowskich", "a moneta coin"])
def test_inflections_are_bounded(matcher: NameMatcher, prompt: str) -> None:
    # an ordinary word, a same-length change without the given name, a long name's common
    # surname without a cue, a five-letter name's stem in another word
    assert matcher.find(prompt) == []


# ------------------------------------------------------------------ misspellings
@pytest.mark.parametrize(
    "prompt, how",
    [("a storm by Ivan Ayvazovsky", "fuzzy"), ("a storm by Ivan Aivazovski", "fuzzy"), ("dragon by Greg Rutkovsky", "phonetic")],
)
def test_long_names_are_matched_one_or_two_edits_away(matcher: NameMatcher, prompt: str, how: str) -> None:
    hits = matcher.find(prompt)
    assert [(h.artist_id, h.how) for h in hits] == [(2 if "Iv" in prompt else 4, how)]
    assert hits[0].edits == (1 if how == "fuzzy" else 2)


@pytest.mark.parametrize("prompt", ["Greg Norman playing golf", "Ivan Ivanov at a desk", "a Nielsen desk lamp"])
def test_other_people_are_not_misspellings(matcher: NameMatcher, prompt: str) -> None:
    assert matcher.find(prompt) == []


# ------------------------------------------------------------------ common words need context
@pytest.mark.parametrize(
    "prompt",
    ["a queen bee on a honeycomb", "Learned by heart", "a Nielsen ratings chart", "Monet in the bank", "Heart of the city"],
)
def test_a_common_word_name_alone_does_not_fire(matcher: NameMatcher, prompt: str) -> None:
    assert matcher.find(prompt) == []


@pytest.mark.parametrize(
    "prompt, artist, cue, hidden",
    [
        ("in the style of Queen", 7, "in the style of", ""),
        ("a painting by Heart", 8, "painting by", ""),
        ("water lilies, Monet-esque", 9, "esque", ""),
        ("fairy tale princess im Stil von Nielsen", 6, "im stil von", ""),
        ("#queen poster", 7, "#", ""),
        ("Qu33n poster", 7, "", "leetspeak"),
        ("H e a r t poster", 8, "", "split letters"),
    ],
)
def test_a_common_word_name_fires_with_a_cue_or_an_obfuscation(
    matcher: NameMatcher, prompt: str, artist: int, cue: str, hidden: str
) -> None:
    (hit,) = matcher.find(prompt)
    assert (hit.artist_id, hit.common, hit.cue, hit.obfuscation) == (artist, True, cue, hidden)


def test_a_full_name_needs_no_cue_even_when_its_words_are_common(matcher: NameMatcher) -> None:
    assert who(matcher, "Kay Nielsen fairy tale") == [(6, "exact")]


def test_which_rules_need_context_is_a_policy_setting(matcher: NameMatcher) -> None:
    assert who(matcher, "Queen poster", NameRules(context_required=frozenset())) == [(7, "exact")]
    strict = NameRules(context_required=frozenset({"surname", "common-single"}))
    # Rutkowski is a frequent Polish surname (names-dataset): alone it needs context, unless the
    # policy drops that reading.
    assert who(matcher, "castle, rutkowski, night sky", NameRules(common_zipf=8.0)) == []
    unranked = NameRules(common_zipf=8.0, context_required=DEFAULT_RULES.context_required - {"frequent-surname"})
    assert who(matcher, "castle, rutkowski, night sky", unranked) == [(4, "surname")]
    assert who(matcher, "castle, rutkowski, night sky", strict) == []


def test_the_names_section_of_the_policy_is_validated() -> None:
    policy = load_policy()
    assert "common-single" in policy.names.context_required and policy.names.common_zipf > 0
    with pytest.raises(PolicyError, match="names.context_required"):
        parse_policy(default_policy_text().replace('context_required = ["common-single"', 'context_required = ["sometimes"'))
    with pytest.raises(PolicyError, match="names.colour"):
        parse_policy(default_policy_text().replace("[names]\n", "[names]\ncolour = 1\n"))


# ------------------------------------------------------------------ explanations reach the decision
def test_name_evidence_says_which_rule_fired_and_on_what() -> None:
    artists = [Artist(1, "Greg Rutkowski", Consent.OPT_OUT), Artist(2, "Queen", Consent.OPT_OUT)]
    view = RegistryView(artists={a.id: a for a in artists}, work_artist={}, names=build_names(artists))
    gate = PolicyGate(load_policy(), None, view)
    decision = gate.check_prompt("smok w stylu Rutkowskiego")
    assert decision.action is Action.BLOCK
    (evidence,) = decision.evidence
    assert evidence.rule == "name:inflection (common word; cue 'w stylu')"
    assert evidence.detail["rule"] == "inflection" and evidence.detail["cue"] == "w stylu"
    assert gate.check_prompt("Queen Elizabeth in a carriage").action is Action.ALLOW
    hidden = gate.check_prompt("Qu\u200been poster").evidence[0]
    assert hidden.detail["obfuscation"] == "zero-width characters"
