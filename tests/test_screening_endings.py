"""Weaker inflections (``inflection.search_replaced``) and endings after an apostrophe.

A replaced ending ("w stylu Styki", Styka) and a Finnish "-nen" gradation ("Rissasen",
Rissanen) are read like a common word: they stand next to a style cue only. The artists
here are in none of the corpora under tests/realnames.
"""

from __future__ import annotations

import pytest

from stylegate.governance.screening.inflection import InflectionIndex, apostrophe_ending_end
from stylegate.governance.screening.names import NameMatcher

ARTISTS = [
    (1, "Jan Styka"), (2, "Juho Rissanen"), (3, "Νίκος Εγγονόπουλος"), (4, "Justinas Vienožinskis"),
    (5, "Josef Šíma"), (6, "Nejad Devrim"),
]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher:
    return NameMatcher(ARTISTS)


@pytest.mark.parametrize(
    "prompt, artist, cue",
    [
        ("panorama bitwy w stylu Styki", 1, "w stylu"),  # Polish -a → -i
        ("kesäinen järvi Rissasen tyyliin", 2, "tyyliin"),  # Finnish -nen → -sen
        ("σουρεαλιστικό τοπίο του Εγγονόπουλου", 3, "του"),  # Greek -ος → -ου
    ],
)
def test_a_replaced_ending_next_to_a_style_cue(matcher: NameMatcher, prompt: str, artist: int, cue: str) -> None:
    found = matcher.find(prompt)
    assert [(h.artist_id, h.rule, h.how, h.cue) for h in found] == [(artist, "inflection", "ending", cue)]
    assert found[0].evidence()["common_word"] is True  # read like a common word: that is why it needed the cue


@pytest.mark.parametrize(
    "prompt",
    [
        "obraz Styki na ścianie",  # no style cue
        "Rissasen talo järven rannalla",  # no style cue
        "w stylu Stykt",  # "t" is no case ending
        "w stylu Šímy",  # Šíma is four letters: too short to decline
    ],
)
def test_replaced_endings_are_bounded(matcher: NameMatcher, prompt: str) -> None:
    assert matcher.find(prompt) == []


def test_a_plain_ending_still_stands_alone(matcher: NameMatcher) -> None:
    found = matcher.find("Vienožinskio portretas")  # Lithuanian -is → -io is a replaced ending…
    assert found == []
    found = matcher.find("Vienožinskiui būdingas portretas")  # …-is + "ui" lengthens it: a plain case ending
    assert [(h.artist_id, h.how) for h in found] == [(4, "inflection")]


def test_search_replaced_on_the_index() -> None:
    index = InflectionIndex()
    for key in ("styka", "rissanen", "vienozinskis", "sima"):
        index.add(key)
    index.settle()
    assert index.search_replaced("styki") == ["styka"]
    assert index.search_replaced("rissasen") == ["rissanen"]
    assert index.search_replaced("rissaselle") == ["rissanen"]
    assert index.search_replaced("vienozinskio") == ["vienozinskis"]
    assert index.search_replaced("simy") == []  # "sima" is shorter than a declinable key
    assert index.search_replaced("styka") == []  # the key itself is no inflected form
    assert index.search_replaced("stykami") == []  # longer: a plain ending, :meth:`search`'s job


def test_a_turkish_ending_after_an_apostrophe_comes_before_the_cue(matcher: NameMatcher) -> None:
    # "devrim" is also Turkish for "revolution": a common word, so it needs the cue after the ending.
    found = matcher.find("Devrim'in tarzında soyut bir kompozisyon")
    assert [(h.artist_id, h.cue) for h in found] == [(6, "tarzında")]
    assert matcher.find("Devrim'in yıldönümü için bir afiş") == []


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("Goya'nın tarzında", 8),  # the ending "nın" is skipped
        ("Goya’ya göre", 7),
        ("Goya's dark", 4),  # a possessive is the possessive cue's business
        ("Goya' style", 4),  # an apostrophe alone
        ("Goya'nınxyz tarzı", 4),  # too long for an ending
        ("Goya", 4),
    ],
)
def test_apostrophe_ending_end(prompt: str, expected: int) -> None:
    assert apostrophe_ending_end(prompt, 4) == expected


def test_an_instrumental_one_letter_longer_is_a_replaced_ending() -> None:
    index = InflectionIndex()
    for key in ("picasso", "capek", "matejko"):
        index.add(key)
    index.settle()
    assert index.search_replaced("picassem") == ["picasso"]  # Czech instrumental
    assert index.search_replaced("matejkom") == ["matejko"]  # Slovak
    assert index.search_replaced("picassemi") == []  # two letters longer is no instrumental
    assert index.search_replaced("picassax") == []  # "x" is no ending letter


def test_an_instrumental_needs_a_cue() -> None:
    matcher = NameMatcher([(1, "Pablo Picasso")])
    assert [h.artist_id for h in matcher.find("kubistický obraz inspirovaný Picassem")] == [1]
    assert matcher.find("kubistický obraz s Picassem") == []
