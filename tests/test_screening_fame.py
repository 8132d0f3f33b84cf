"""Fame is not commonness; another person's name next to a registered surname.

``names._famous_name``: a one-word name frequent in wordfreq only because it is famous
(a proper noun in hunspell dictionaries, lower case in none, no frequent name of other
people in names-dataset, no place) stands alone. ``names._surname_first_other``: a
frequent given name of a surname-first country right after a registered surname names
somebody else. The artists are in none of the corpora under tests/realnames.
"""

from __future__ import annotations

import pytest

from stylegate.governance.screening import givennames, propernouns
from stylegate.governance.screening.canonical import canonical_word
from stylegate.governance.screening.names import NameMatcher

needs_dictionaries = pytest.mark.skipif(
    not propernouns.installed_dictionaries(),
    reason="hunspell dictionaries (Debian hunspell-en-us, hunspell-de-de, …) are not installed",
)


@needs_dictionaries
@pytest.mark.parametrize("word, proper", [("Warhol", True), ("Hokusai", True), ("queen", False), ("potter", False)])
def test_hunspell_tells_proper_nouns_from_ordinary_words(word: str, proper: bool) -> None:
    assert propernouns.is_proper_only(canonical_word(word)) is proper


def test_frequent_surnames_come_from_names_dataset() -> None:
    assert givennames.is_frequent_surname(canonical_word("Nielsen"))  # first in Denmark
    assert not givennames.is_frequent_surname(canonical_word("Warhol"))


@needs_dictionaries
def test_a_famous_one_word_name_stands_alone_without_a_cue() -> None:
    matcher = NameMatcher([(1, "Warhol")])  # Zipf 3+ in wordfreq, yet nobody else's name
    hits = matcher.find("Warhol, soup cans in a row")
    assert [h.artist_id for h in hits] == [1]


def test_a_one_word_name_that_is_a_frequent_surname_still_needs_a_cue() -> None:
    matcher = NameMatcher([(1, "Nielsen")])
    suppressed: list = []
    assert matcher.find("Nielsen ratings for the evening news", suppressed=suppressed) == []
    assert suppressed and "common word" in suppressed[0][1]
    assert [h.artist_id for h in matcher.find("a fairy tale castle in the style of Nielsen")] == [1]


def test_a_surname_first_given_name_after_the_surname_is_someone_else() -> None:
    matcher = NameMatcher([(1, "Kiyoshi Saito")])
    assert matcher.find("Saito Kiyoshi woodblock print") != []  # the artist's own given name
    assert matcher.find("Governor Saito Hiroshi opening the new bridge") == []
    assert matcher.find("winter temple, woodblock print by Saito") != []


def test_a_frequent_given_name_before_the_surname_is_someone_else() -> None:
    matcher = NameMatcher([(1, "Odilon Redon")])
    assert matcher.find("Franco Redon at a podium, economics conference") == []
    assert matcher.find("bouquet, Rose Redon at the piano") == []  # "Rose": Zipf 4.8, but a top-100 given name
    assert matcher.find("Golden Rose Redon") != []  # title case: the capital says nothing
    assert matcher.find("a pastel bouquet by Redon") != []


def test_a_given_name_variant_keeps_its_first_letter() -> None:
    assert givennames.is_variant("vasily", ["wassily"])  # same consonant skeleton
    assert not givennames.is_variant("rabindranath", ["abanindranath"])


def test_a_metro_station_named_after_a_surname_is_a_place() -> None:
    matcher = NameMatcher([(1, "Ilya Repin")])
    assert matcher.find("Repin metro station at rush hour") == []
    assert matcher.find("barge haulers on the Volga in the style of Repin") != []


def test_a_dropped_other_persons_surname_says_why() -> None:
    matcher = NameMatcher([(1, "Odilon Redon"), (2, "Kiyoshi Saito")])
    suppressed: list = []
    assert matcher.find("Franco Redon at a podium", suppressed=suppressed) == []
    assert any(h.artist_id == 1 and "'Franco' before the surname" in why for h, why in suppressed)
    suppressed.clear()
    assert matcher.find("Governor Saito Hiroshi opening the bridge", suppressed=suppressed) == []
    assert any(h.artist_id == 2 and "surname first: 'Hiroshi'" in why for h, why in suppressed)


@pytest.mark.parametrize("prompt", ["Muzeum im. Matejki w Krakowie, fasada", "Театр им. Репина, фасад зимой"])
def test_an_institution_named_after_the_surname_is_no_hit(prompt: str) -> None:
    matcher = NameMatcher([(1, "Jan Matejko"), (2, "Ilya Repin")])
    suppressed: list = []
    assert matcher.find(prompt, suppressed=suppressed) == []
    assert suppressed and all("institution" in why for _, why in suppressed)


def test_german_im_before_a_surname_is_no_institution() -> None:
    matcher = NameMatcher([(1, "Jan Matejko")])
    assert matcher.find("ein Schlachtgemälde im Matejko-Stil") != []


def test_dictionary_stems_are_read_in_their_declared_encoding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pl_PL.aff").write_bytes(b"SET ISO8859-2\nTRY abc\n")
    (tmp_path / "pl_PL.dic").write_bytes("3\nWyspiański/N\nżółw/T\nMatejko\n".encode("iso8859-2"))
    lower, upper = propernouns.read_stems(tmp_path / "pl_PL.dic")
    assert canonical_word("żółw") in lower
    assert {canonical_word("Wyspiański"), canonical_word("Matejko")} <= upper


def test_without_dictionaries_no_word_is_a_proper_noun(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STYLEGATE_HUNSPELL_DIR", str(tmp_path))
    propernouns._proper.cache_clear()
    try:
        assert not propernouns.is_proper_only(canonical_word("Warhol"))
    finally:
        propernouns._proper.cache_clear()
