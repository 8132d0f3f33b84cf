"""Per-artist counters, kept in the audit log's own tables so a dashboard reads O(1) rows.

Each append adds its entry's contribution (:func:`entry_deltas`) to the ``counters`` table in the
same transaction as the entry, so the counters always describe exactly the committed entries
(``tree_state.counted`` says through which sequence number). ``stylegate audit recount`` replays
the entries through the same function and compares.

What is counted, per artist id (the same rules as ``reports/attribution.py``):

- ``generations``: allowed (``allow``/``attribute``/``steer``) generations that attribute a share
  to the artist as a royalty or credit artist;
- ``share_micros``: the sum of those shares, in millionths (shares are stored rounded to six
  decimals, so integer sums are exact and a recount matches to the unit);
- ``royalty_micros`` / ``royalty_held_micros``: the part of it for royalty consent, payable or held
  (an unverified artist's share); royalties owed = price × rate × royalty_micros / 10⁶;
- ``blocked_generations``: blocked generations whose evidence names the artist as opted out;
- ``blocked_checks``: blocked prompt and image checks with a blocking piece of evidence for them;
- ``unprompted_style``: allowed generations whose image matched the artist's style (royalty or
  credit consent) without the request asking for it: recorded, not paid (``attribution.basis``).

A ``generate.correction`` entry that says no image of generation *s* was written takes *s*'s
contribution back out, once (the ``voided`` table remembers which generations were voided).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .entry import AuditKind, CorrectionRecord, DecisionRecord, parse_json

if TYPE_CHECKING:  # pragma: no cover
    from .backend import Backend

__all__ = ["ALLOWED_DECISIONS", "COUNTER_NAMES", "PAID_CONSENTS", "CounterBatch", "MICROS", "batch_for", "count_range",
           "entry_deltas", "recompute", "save"]

ALLOWED_DECISIONS = ("allow", "attribute", "steer")
PAID_CONSENTS = ("royalty", "credit")
COUNTER_NAMES = ("generations", "share_micros", "royalty_micros", "royalty_held_micros", "blocked_generations",
                 "blocked_checks", "unprompted_style")
MICROS = 1_000_000
_CHECK_KINDS = (AuditKind.CHECK_PROMPT.value, AuditKind.CHECK_IMAGE.value)

Deltas = dict[tuple[int, str], int]


def _micros(share: Any) -> int | None:
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) or share < 0:
        return None
    return int(round(float(share) * MICROS))


def _generation_deltas(record: DecisionRecord) -> Deltas:
    out: Deltas = defaultdict(int)
    if record.action in ALLOWED_DECISIONS:
        seen: set[int] = set()
        for item in record.attribution:
            micros = _micros(item.share)
            if item.consent not in PAID_CONSENTS or item.artist.id is None or micros is None:
                continue
            artist = item.artist.id
            if artist not in seen:
                seen.add(artist)
                out[(artist, "generations")] += 1
            out[(artist, "share_micros")] += micros
            if item.consent == "royalty":
                out[(artist, "royalty_held_micros" if item.held else "royalty_micros")] += micros
        unprompted = {u.artist.id for u in record.unprompted_style if u.consent in PAID_CONSENTS and u.artist.id is not None}
        for artist in unprompted:
            out[(artist, "unprompted_style")] += 1
    elif record.action == "block":
        for artist in {ev.artist.id for ev in record.evidence if ev.consent == "opt-out" and ev.artist.id is not None}:
            out[(artist, "blocked_generations")] += 1
    return out


def _check_deltas(record: DecisionRecord) -> Deltas:
    if record.action != "block":
        return {}
    artists = {ev.artist.id for ev in record.evidence if ev.action == "block" and ev.artist.id is not None}
    return {(artist, "blocked_checks"): 1 for artist in artists if artist is not None}


def entry_deltas(kind: str, body: Mapping[str, Any]) -> Deltas:
    """What one decision entry adds to the counters (corrections are handled by :class:`CounterBatch`)."""
    if kind == AuditKind.GENERATE.value:
        return dict(_generation_deltas(DecisionRecord.from_body(body)))
    if kind in _CHECK_KINDS:
        return _check_deltas(DecisionRecord.from_body(body))
    return {}


class CounterBatch:
    """Counter changes for consecutive entries, summed in memory and written in one statement.

    ``lookup(seq)`` returns ``(kind, body)`` of an earlier entry (for corrections) or None;
    ``is_voided(seq)`` says whether an earlier correction already voided it.
    """

    def __init__(self, lookup: Callable[[int], tuple[str, Mapping[str, Any]] | None],
                 is_voided: Callable[[int], bool]) -> None:
        self.deltas: Deltas = defaultdict(int)
        self.voided: list[int] = []
        self._lookup = lookup
        self._is_voided = is_voided
        self._voided_here: set[int] = set()

    def add(self, seq: int, kind: str, body: Mapping[str, Any]) -> None:
        if kind == AuditKind.GENERATE_CORRECTION.value:
            self._correct(seq, CorrectionRecord.from_body(body))
            return
        for key, value in entry_deltas(kind, body).items():
            self.deltas[key] += value

    def _correct(self, seq: int, correction: CorrectionRecord) -> None:
        target = correction.corrects
        if correction.written or target is None or not 1 <= target < seq:
            return
        if target in self._voided_here or self._is_voided(target):
            return
        found = self._lookup(target)
        if found is None or found[0] != AuditKind.GENERATE.value:
            return
        self._voided_here.add(target)
        self.voided.append(target)
        for key, value in entry_deltas(*found).items():
            self.deltas[key] -= value

    def rows(self) -> list[tuple[int, str, int]]:
        return [(artist, name, value) for (artist, name), value in sorted(self.deltas.items()) if value]


# -- storage: the ``counters`` and ``voided`` tables, inside the log's transactions -------------

Pending = Mapping[int, tuple[str, Mapping[str, Any]]]


def _stored_body(conn: Backend, seq: int) -> tuple[str, Mapping[str, Any]] | None:
    row = conn.execute("SELECT kind, entry FROM entries WHERE seq = ?", (seq,)).fetchone()
    return (row[0], parse_json(row[1]).get("body") or {}) if row else None


def batch_for(conn: Backend, pending: Pending | None = None) -> CounterBatch:
    """A batch that looks corrected generations up in ``pending`` (this transaction's new
    entries, not inserted yet) or in the log, and voided ones in the ``voided`` table."""
    def lookup(seq: int) -> tuple[str, Mapping[str, Any]] | None:
        if pending and seq in pending:
            return pending[seq]
        return _stored_body(conn, seq)

    def is_voided(seq: int) -> bool:
        return conn.execute("SELECT 1 FROM voided WHERE seq = ?", (seq,)).fetchone() is not None

    return CounterBatch(lookup, is_voided)


def save(conn: Backend, batch: CounterBatch) -> None:
    """Add a batch's changes to the stored counters."""
    rows = batch.rows()
    if rows:
        conn.executemany(
            "INSERT INTO counters (artist_id, name, value) VALUES (?, ?, ?) ON CONFLICT (artist_id, name) "
            "DO UPDATE SET value = counters.value + excluded.value", rows)
    if batch.voided:
        conn.executemany("INSERT INTO voided (seq) VALUES (?) ON CONFLICT (seq) DO NOTHING", [(s,) for s in batch.voided])


def count_range(conn: Backend, first: int, last: int) -> None:
    """Add entries ``first..last`` to the counters and mark them counted (in a write transaction)."""
    batch = batch_for(conn)
    for seq, kind, text in conn.stream(
            "SELECT seq, kind, entry FROM entries WHERE seq >= ? AND seq <= ? ORDER BY seq", (first, last)):
        batch.add(int(seq), kind, parse_json(text).get("body") or {})
    save(conn, batch)
    conn.execute("UPDATE tree_state SET counted = ? WHERE id = 1", (last,))


def recompute(conn: Backend) -> tuple[int, dict[tuple[int, str], int], list[int]]:
    """Replay every entry through the rules, writing nothing: ``(entries, {(artist, counter):
    value}, voided generations)``. Corrections look their generation up in the log."""
    batch = CounterBatch(lambda seq: _stored_body(conn, seq), lambda _seq: False)  # it remembers its own voids
    n = 0
    for seq, kind, text in conn.stream("SELECT seq, kind, entry FROM entries ORDER BY seq"):
        batch.add(int(seq), kind, parse_json(text).get("body") or {})
        n += 1
    return n, {k: v for k, v in batch.deltas.items() if v}, batch.voided
