"""Name rules added for real names the screen had not seen (issue #11, the fresh split).

Each rule is checked both ways: the attack it is for is caught, with its explanation, and
the ordinary prompt next to it is not.
"""

from __future__ import annotations

import pytest

from stylegate.governance.screening.names import NameHit, NameMatcher

ARTISTS = [
    (1, "ถวัลย์ ดัชนี"), (2, "Junji Ito"), (3, "ראובן רובין"), (4, "Arkhip Kuindzhi"), (5, "Helene Schjerfbeck"),
    (6, "Akseli Gallen-Kallela"), (7, "Zdeněk Burian"), (8, "Frida Kahlo"), (9, "Ilya Repin"), (10, "Ilya Kuvshinov"),
    (11, "Carl Larsson"), (12, "M. F. Husain"), (13, "मक़बूल फ़िदा हुसैन"),
]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(ARTISTS)


def hits(matcher: NameMatcher, prompt: str) -> list[NameHit]:
    return matcher.find(prompt)


# ---------------------------------------------------------------- unspaced runs
def test_a_thai_surname_inside_a_run_of_thai_needs_context(matcher: NameMatcher) -> None:
    assert hits(matcher, "กราฟดัชนีหุ้นวันนี้") == []  # ดัชนี is "index" as well as a surname
    full = hits(matcher, "ภาพเขาควายแบบถวัลย์ ดัชนีสีดำ")  # the full name glued to the run still stands
    assert [h.artist_id for h in full] == [1]


def test_characters_of_an_unspaced_script_are_not_split_letters(matcher: NameMatcher) -> None:
    # Thai read a character at a time transliterates to "...i t o..." (Ito): no disguise, no hit.
    assert hits(matcher, "ภาพวิวทะเลตอนพระอาทิตย์ตก") == []


# ---------------------------------------------------------------- the word as written
def test_a_transliterated_surname_is_rated_by_the_word_the_prompt_holds(matcher: NameMatcher) -> None:
    assert hits(matcher, "רובין הוד ביער") == []  # Robin Hood: "רובין" is a frequent Hebrew word
    assert hits(matcher, "हुसैन सागर झील की तस्वीर") == []  # a lake named after another Husain
    assert [h.artist_id for h in hits(matcher, "עצי זית בסגנון ראובן רובין")] == [3]


# ---------------------------------------------------------------- romanisation variants
@pytest.mark.parametrize(
    "prompt, artist, edits",
    [("moonlit river by Arkhip Kuinji", 4, 3)],
)
def test_a_given_name_next_to_a_romanisation_variant_of_the_surname(
    matcher: NameMatcher, prompt: str, artist: int, edits: int
) -> None:
    found = hits(matcher, prompt)
    assert [(h.artist_id, h.how, h.rule) for h in found] == [(artist, "variant", "phonetic")]
    assert found[0].evidence()["edits"] == edits


def test_a_cyrillic_kh_read_as_h_gives_the_whole_skeleton(matcher: NameMatcher) -> None:
    # Once the romanisation variant rule's (3 edits); the skeleton rule now reads Cyrillic "х"
    # as the "h" it transliterates ("helene sherfbek"), an exact skeleton, and that hit is kept.
    found = hits(matcher, "Хелене Шерфбек, автопортрет")
    assert [(h.artist_id, h.how, h.rule, h.edits) for h in found] == [(5, "skeleton", "skeleton", 0)]


@pytest.mark.parametrize(
    "prompt",
    ["Arkhip Kovalenko at his desk", "Helene Fischer on stage", "Arkhip, Kuinji", "Helene Sherry portrait"],
)
def test_romanisation_variants_are_bounded(matcher: NameMatcher, prompt: str) -> None:
    # another surname, another first letter, punctuation between, a common word
    assert hits(matcher, prompt) == []


# ---------------------------------------------------------------- declined surnames
def test_a_hyphenated_surname_declines_on_its_last_part(matcher: NameMatcher) -> None:
    found = hits(matcher, "Gallen-Kallelan tyyliin maalattu metsä")
    assert [(h.artist_id, h.how) for h in found] == [(6, "inflection")]
    assert found[0].cue == "tyyliin"


def test_an_inflected_form_that_is_a_word_stands_only_next_to_a_cue(matcher: NameMatcher) -> None:
    found = hits(matcher, "pravěká krajina podle Buriana")
    assert [(h.artist_id, h.how, h.common, h.cue) for h in found] == [(7, "inflection", True, "podle")]
    assert hits(matcher, "zahrada plná burianu") == []  # Czech "weeds"
    assert hits(matcher, "krajina plná buriana") == []


# ---------------------------------------------------------------- a given name alone
def test_a_rare_given_name_alone_needs_a_strong_cue(matcher: NameMatcher) -> None:
    found = hits(matcher, "spiral town in the style of Junji")
    assert [(h.artist_id, h.rule, h.cue) for h in found] == [(2, "given", "in the style of")]
    assert hits(matcher, "a photo of Junji at the beach") == []
    assert hits(matcher, "a portrait by Junji") == []  # "by" is a weak cue


def test_a_common_or_shared_given_name_alone_matches_nobody(matcher: NameMatcher) -> None:
    assert hits(matcher, "self portrait in the style of Frida") == []  # frequent in ordinary text
    assert hits(matcher, "a portrait in the style of Ilya") == []  # two artists are called Ilya


# ---------------------------------------------------------------- possessives
def test_a_possessive_before_a_business_is_no_style_cue(matcher: NameMatcher) -> None:
    assert hits(matcher, "Larsson's bakery in Stockholm") == []
    found = hits(matcher, "Larsson's kitchen interior, watercolour")
    assert [(h.artist_id, h.cue) for h in found] == [(11, "'s")]
