"""The name matcher's packed key table: built rows, rows added after the build, removals."""

from __future__ import annotations

from stylegate.governance.screening.keytable import KeyTable
from stylegate.governance.screening.names import NameMatcher


def _artists(matcher: NameMatcher, prompt: str) -> set[int]:
    return {h.artist_id for h in matcher.find(prompt)}


def test_settle_keeps_one_row_per_owner_and_key_in_filing_order() -> None:
    table = KeyTable()
    for key, code in [("annaberg", 10), ("bobsmith", 20), ("annaberg", 11), ("annaberg", 30)]:
        table.file_bulk(key, code)
    kept, codes = table.settle(lambda c: c // 10)  # owner: the tens digit
    assert kept == ["annaberg", "bobsmith", "annaberg"]
    assert codes.tolist() == [10, 20, 30]
    assert table.built("annaberg") == [10, 30]
    assert table.built("bobsmith") == [20]
    assert table.built("nobody") == []
    assert table.distinct() == 2


def test_overlay_rows_are_added_and_dropped_by_code() -> None:
    table = KeyTable()
    table.add("karelzeman", 5)
    table.add("karelzeman", 6)
    table.drop_added("karelzeman", {5})
    assert table.added("karelzeman") == [6]
    table.drop_added("karelzeman", {6})
    assert table.added("karelzeman") == []


def test_shared_name_survives_one_owner_leaving_and_returning() -> None:
    matcher = NameMatcher([(1, "Hana Kowalczyk"), (2, "Hana Kowalczyk"), (3, "Oskar Lindqvist")])
    assert _artists(matcher, "a poster by Hana Kowalczyk") == {1, 2}
    assert len(matcher) > 0
    matcher.remove(1)
    assert _artists(matcher, "a poster by Hana Kowalczyk") == {2}
    matcher.add(1, "Hana Kowalczyk")  # back, filed in the overlay this time
    assert _artists(matcher, "a poster by Hana Kowalczyk") == {1, 2}
    matcher.remove(1)
    matcher.remove(2)
    assert _artists(matcher, "a poster by Hana Kowalczyk") == set()
    assert _artists(matcher, "art by Oskar Lindqvist") == {3}


def test_removing_every_artist_empties_the_matcher() -> None:
    matcher = NameMatcher([(1, "Hana Kowalczyk"), (2, "Oskar Lindqvist")])
    before = len(matcher)
    matcher.remove(1)
    assert 0 < len(matcher) < before
    matcher.remove(2)
    assert len(matcher) == 0
    assert matcher.find("art by Oskar Lindqvist") == []


def test_an_artists_alias_with_the_same_key_is_filed_once() -> None:
    # "Lindqvist Oskar" reversed is the first label's key: one entry for the artist, not two.
    matcher = NameMatcher([(3, "Oskar Lindqvist"), (3, "Lindqvist Oskar")])
    hits = [h for h in matcher.find("art by Oskar Lindqvist") if h.rule == "full-name"]
    assert len({(h.artist_id, h.start, h.end) for h in hits}) == len(hits) == 1
    matcher.remove(3)
    assert matcher.find("art by Oskar Lindqvist") == []
    assert matcher.find("art by Oskr Lindqvist") == []  # its fuzzy codes are gone too


def test_removing_an_artist_drops_every_label_of_the_build_and_of_the_overlay() -> None:
    # Labels of one artist filed apart in the build (another artist between them).
    matcher = NameMatcher([(7, "Oskar Lindqvist"), (8, "Hana Kowalczyk"), (7, "Wiktor Brandvold")])
    assert _artists(matcher, "art by Wiktor Brandvold") == {7}
    matcher.add(7, "Ilse Marrowind")  # an alias added after the build
    assert _artists(matcher, "art by Ilse Marrowind") == {7}
    matcher.remove(7)
    for prompt in ("art by Oskar Lindqvist", "art by Wiktor Brandvold", "art by Ilse Marrowind"):
        assert _artists(matcher, prompt) == set(), prompt
    assert _artists(matcher, "a poster by Hana Kowalczyk") == {8}
    matcher.add(7, "Oskar Lindqvist")
    assert _artists(matcher, "art by Oskar Lindqvist") == {7}
    assert _artists(matcher, "art by Wiktor Brandvold") == set()
