"""The registry's change log: which artists each revision touched, and how.

Every committed change writes, in its own transaction, one row per artist it touched
(``registry_changes``): ``artist`` (registered, renamed, aliases, descriptors, consent,
verification, removed), ``works`` (works added or withdrawn), ``claim`` (a name dispute opened
or resolved: the artists' names change through their own ``artist`` rows) or ``all`` (an
event this module does not know: whoever reads the log must rebuild). A running gate reads
the log since the revision it was built at and applies only those artists (see
``governance.matching.view_delta``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

ARTIST = "artist"
WORKS = "works"
CLAIM = "claim"
ALL = "all"


@dataclass(frozen=True)
class ChangeSet:
    """What changed between two revisions: the artists touched, by kind."""

    from_revision: int
    to_revision: int
    artists: frozenset[int] = frozenset()  # registration, names, consent, verification, removal
    works: frozenset[int] = frozenset()  # artists whose works were added or withdrawn
    everything: bool = False  # an unknown change: only a rebuild is safe
    rows: int = field(default=0, compare=False)

    @property
    def touched(self) -> frozenset[int]:
        return self.artists | self.works


def change_rows(event: str, payload: dict) -> list[tuple[int | None, str]]:
    """The (artist id, kind) rows one emitted registry event writes to the log."""
    if event in ("artist.added", "artist.updated"):
        return [(int(payload["artist"]["id"]), ARTIST)]
    if event == "artist.removed":
        return [(int(payload["artist"]["id"]), ARTIST)] + _works_rows(payload.get("works", ()))
    if event in ("works.added", "works.removed"):
        return _works_rows(payload.get("works", ()))
    if event.startswith("account."):  # verification caps an unverified opt-out: the gate reads it
        return [(int(payload["artist_id"]), ARTIST)]
    if event == "claim.disputed":
        return [(int(payload["claimant"]), CLAIM)]
    if event == "claim.resolved":
        return [(int(payload["claimant"]), CLAIM)]
    return [(None, ALL)]


def _works_rows(works: Iterable[dict]) -> list[tuple[int | None, str]]:
    return [(a, WORKS) for a in sorted({int(w["artist_id"]) for w in works})]


def change_set(from_revision: int, to_revision: int, rows: Iterable[tuple[int | None, str]]) -> ChangeSet:
    artists: set[int] = set()
    works: set[int] = set()
    everything = False
    n = 0
    for artist_id, kind in rows:
        n += 1
        if kind == ARTIST and artist_id is not None:
            artists.add(artist_id)
        elif kind == WORKS and artist_id is not None:
            works.add(artist_id)
        elif kind != CLAIM:
            everything = True
    return ChangeSet(from_revision, to_revision, frozenset(artists), frozenset(works), everything, n)
