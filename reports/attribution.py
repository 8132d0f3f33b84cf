"""Attribution and royalty reports from the audit log.

One row per (allowed generation, attributed artist) for royalty and credit artists; royalty owed
for a row is ``price_per_generation × share × rate`` where ``rate`` is the artist's
``royalty_rate`` (from the registry) or else the policy's ``default_royalty_rate``; credit artists
are owed 0. Generations blocked because of opted-out artists are counted per opted-out artist
named in the blocking evidence. Generations whose output image matched a royalty or credit
artist's style without the request asking for it (``unprompted_style`` candidates under
``attribution.basis = "requested"``) are counted per artist too: shown, not paid.
:func:`build_attribution_report` aggregates all three per artist and period (``day``,
``week``, ``month``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stylegate.errors import ReportError
from stylegate.governance.audit import AuditEntry, AuditKind, AuditLog, DecisionRecord
from stylegate.governance.audit.counters import ALLOWED_DECISIONS, PAID_CONSENTS
from stylegate.governance.audit.entry import ArtistRef, AttributionItem
from stylegate.governance.policy import Policy, load_policy

from ._source import PERIODS, EntrySource, TimeBound, iter_entries, period_labels, to_iso

__all__ = [
    "ALLOWED_DECISIONS",
    "AttributionReport",
    "ReportError",
    "SHARE_TOLERANCE",
    "artist_rates",
    "attribution_rows",
    "blocked_rows",
    "unprompted_rows",
    "build_attribution_report",
    "decision_counts",
    "summarize",
]

SHARE_TOLERANCE = 1e-4  # shares are stored rounded to 6 decimals

ROW_COLUMNS = ["seq", "time", "decision", "artist_id", "artist_name", "consent", "share", "rate", "royalty", "held"]
BLOCKED_COLUMNS = ["seq", "time", "artist_id", "artist_name"]
UNPROMPTED_COLUMNS = ["seq", "time", "artist_id", "artist_name", "consent"]
SUMMARY_COLUMNS = [
    "period", "artist_id", "artist_name", "consent", "generations", "share_sum", "royalties", "royalties_held",
    "blocked_on_behalf", "unprompted_style",
]
DECISION_COLUMNS = ["period", "decision", "count"]


def artist_rates(source: Any) -> dict[int, float | None]:
    """``{artist id: royalty_rate or None}`` from a RegistryStore, an iterable of Artists or a mapping."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return {int(k): (None if v is None else float(v)) for k, v in source.items()}
    artists = source.list_artists() if hasattr(source, "list_artists") else source
    return {int(a.id): (None if a.royalty_rate is None else float(a.royalty_rate)) for a in artists}


def _voided(source: EntrySource, since: TimeBound) -> set[Any]:
    """Generations whose correction (at or after ``since``) says no image was written."""
    void = set()
    for e in iter_entries(source, kinds=[AuditKind.GENERATE_CORRECTION], since=since, until=None):
        correction = AuditEntry.from_dict(e).correction()
        if not correction.written:
            void.add(correction.corrects)
    return void


def iter_generation_entries(source: EntrySource, since: TimeBound, until: TimeBound) -> Iterator[dict[str, Any]]:
    """Generation entries with ``since <= time < until``, less those whose correction says no
    image was written, streamed in order (a log of millions is never held in memory)."""
    if not isinstance(source, (AuditLog, str, os.PathLike)):
        source = list(source)  # read twice below
    void = _voided(source, since)
    for e in iter_entries(source, kinds=[AuditKind.GENERATE], since=since, until=until):
        if e.get("seq") not in void:
            yield e


def _generation_entries(source: EntrySource, since: TimeBound, until: TimeBound) -> list[dict[str, Any]]:
    """Generation entries, less those whose correction says no image was written."""
    return list(iter_generation_entries(source, since, until))


def _generations(entries: Iterable[Mapping[str, Any]]) -> Iterator[tuple[AuditEntry, DecisionRecord]]:
    """Each ``generate`` entry with its decision record (other kinds are skipped)."""
    for raw in entries:
        if raw.get("kind") != AuditKind.GENERATE:
            continue
        entry = AuditEntry.from_dict(raw)
        yield entry, entry.decision()


def _ref(artist: ArtistRef, seq: int) -> tuple[int, str]:
    if artist.id is None:
        raise ReportError(f"audit entry {seq}: an attribution or evidence item has no artist id")
    return artist.id, artist.name


def _check_shares(seq: int, attribution: Sequence[AttributionItem]) -> None:
    total = 0.0
    for item in attribution:
        share = item.share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) or share < 0:
            raise ReportError(f"audit entry {seq}: attribution share {share!r} is not a non-negative number")
        total += float(share)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ReportError(f"audit entry {seq}: attribution shares sum to {total:.6f}, not 1")


def attribution_rows(
    entries: Iterable[Mapping[str, Any]],
    *,
    price_per_generation: float,
    default_royalty_rate: float,
    rates: Mapping[int, float | None] | None = None,
) -> pd.DataFrame:
    """One row per (allowed generation, royalty/credit artist); validates that shares sum to 1."""
    rows: list[tuple[Any, ...]] = []
    for entry, record in _generations(entries):
        rows.extend(_attribution_items(entry, record, float(price_per_generation), float(default_royalty_rate),
                                       rates or {}))
    return _frame(rows, ROW_COLUMNS)


def _attribution_items(entry: AuditEntry, record: DecisionRecord, price: float, default_rate: float,
                       rates: Mapping[int, float | None]) -> list[tuple[Any, ...]]:
    """The ROW_COLUMNS tuples of one generation (none unless it was allowed with an attribution)."""
    if record.action not in ALLOWED_DECISIONS or not record.attribution:
        return []
    seq = entry.seq
    _check_shares(seq, record.attribution)
    out = []
    for item in record.attribution:
        consent = item.consent
        if consent not in PAID_CONSENTS:
            continue
        artist_id, name = _ref(item.artist, seq)
        share = float(item.share)
        if consent == "royalty":
            rate = rates.get(artist_id)
            rate = default_rate if rate is None else float(rate)
        else:
            rate = 0.0
        # held: an unverified artist's share, recorded, held back from payment until verified
        out.append((seq, entry.time, record.action, artist_id, name, consent, share, rate, price * share * rate,
                    item.held))
    return out


def blocked_rows(entries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (blocked generation, opted-out artist in its evidence)."""
    rows: list[tuple[Any, ...]] = []
    for entry, record in _generations(entries):
        rows.extend(_blocked_items(entry, record))
    return _frame(rows, BLOCKED_COLUMNS)


def _unprompted_items(entry: AuditEntry, record: DecisionRecord) -> list[tuple[Any, ...]]:
    """The UNPROMPTED_COLUMNS tuples of one generation: each royalty/credit artist whose style its
    allowed image matched unrequested (the entry's ``unprompted_style``; recorded, not paid)."""
    if record.action not in ALLOWED_DECISIONS:
        return []
    seen: dict[int, tuple[str, str]] = {}
    for item in record.unprompted_style:
        if item.consent in PAID_CONSENTS:
            artist_id, name = _ref(item.artist, entry.seq)
            seen.setdefault(artist_id, (name, item.consent))
    return [(entry.seq, entry.time, artist_id, name, consent) for artist_id, (name, consent) in seen.items()]


def unprompted_rows(entries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (allowed generation, royalty/credit artist whose style its image matched
    unrequested): recorded in the entry's ``unprompted_style``, not paid."""
    items = [item for entry, record in _generations(entries) for item in _unprompted_items(entry, record)]
    return _frame(items, UNPROMPTED_COLUMNS)


def _blocked_items(entry: AuditEntry, record: DecisionRecord) -> list[tuple[Any, ...]]:
    """The BLOCKED_COLUMNS tuples of one generation (one per opted-out artist if it was blocked)."""
    if record.action != "block":
        return []
    seen: dict[int, str] = {}
    for ev in record.evidence:
        if ev.consent == "opt-out":
            artist_id, name = _ref(ev.artist, entry.seq)
            seen.setdefault(artist_id, name)
    return [(entry.seq, entry.time, artist_id, name) for artist_id, name in seen.items()]


def decision_counts(entries: Iterable[Mapping[str, Any]], period: str = "month") -> pd.DataFrame:
    """Generations per period and decision."""
    return _decision_frame([(entry.time, str(record.action)) for entry, record in _generations(entries)], period)


def _decision_frame(rows: list[tuple[str, str]], period: str) -> pd.DataFrame:
    if not rows:
        return _frame([], DECISION_COLUMNS)
    df = pd.DataFrame.from_records(rows, columns=["time", "decision"])
    df["period"] = period_labels(df["time"], period)
    out = df.groupby(["period", "decision"], sort=True).size().reset_index(name="count")
    out["count"] = out["count"].astype("int64")
    return out[DECISION_COLUMNS]


def summarize(rows: pd.DataFrame, blocked: pd.DataFrame, period: str = "month",
              unprompted: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per artist and period: generations attributed, share sum, royalties owed, blocked on
    behalf, and generations whose image matched the artist's style unrequested (not paid)."""
    if period not in PERIODS:
        raise ReportError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    keys = ["period", "artist_id"]
    parts: list[pd.DataFrame] = []
    if not rows.empty:
        held = rows["held"].astype(bool)
        r = rows.assign(period=period_labels(rows["time"], period),
                        payable=rows["royalty"].where(~held, 0.0), withheld=rows["royalty"].where(held, 0.0))
        parts.append(r.groupby(keys, sort=False).agg(
            generations=("seq", "nunique"), share_sum=("share", "sum"), royalties=("payable", "sum"),
            royalties_held=("withheld", "sum"),
        ))
    if not blocked.empty:
        b = blocked.assign(period=period_labels(blocked["time"], period))
        parts.append(b.groupby(keys, sort=False).agg(blocked_on_behalf=("seq", "nunique")))
    if unprompted is not None and not unprompted.empty:
        u = unprompted.assign(period=period_labels(unprompted["time"], period))
        parts.append(u.groupby(keys, sort=False).agg(unprompted_style=("seq", "nunique")))
    if not parts:
        return _frame([], SUMMARY_COLUMNS)
    out = pd.concat(parts, axis=1).reset_index()
    for col in ("generations", "share_sum", "royalties", "royalties_held", "blocked_on_behalf", "unprompted_style"):
        if col not in out:
            out[col] = 0
    # latest name and consent seen for each artist
    seen = [(int(r.seq), int(r.artist_id), str(r.artist_name), str(r.consent)) for r in rows.itertuples(index=False)]
    seen += [(int(r.seq), int(r.artist_id), str(r.artist_name), "opt-out") for r in blocked.itertuples(index=False)]
    if unprompted is not None:
        seen += [(int(r.seq), int(r.artist_id), str(r.artist_name), str(r.consent))
                 for r in unprompted.itertuples(index=False)]
    names = {artist_id: (name, consent) for _, artist_id, name, consent in sorted(seen, key=lambda t: t[0])}
    out["artist_id"] = out["artist_id"].astype("int64")
    out["artist_name"] = [names[i][0] for i in out["artist_id"]]
    out["consent"] = [names[i][1] for i in out["artist_id"]]
    for col, kind in (("generations", "int64"), ("share_sum", "float64"), ("royalties", "float64"),
                      ("royalties_held", "float64"), ("blocked_on_behalf", "int64"), ("unprompted_style", "int64")):
        out[col] = out[col].fillna(0).astype(kind)
    out["period"] = out["period"].astype("str")
    out["artist_name"] = out["artist_name"].astype("str")
    out["consent"] = out["consent"].astype("str")
    out = out.sort_values(["period", "artist_id"], kind="stable").reset_index(drop=True)
    return out[SUMMARY_COLUMNS]


@dataclass
class AttributionReport:
    """The attribution report: ``summary`` (per artist and period) plus the rows behind it."""

    summary: pd.DataFrame
    rows: pd.DataFrame
    blocked: pd.DataFrame
    decisions: pd.DataFrame
    period: str
    price_per_generation: float
    default_royalty_rate: float
    since: str | None = None
    until: str | None = None
    title: str = "Attribution and royalties"
    meta: dict[str, Any] = field(default_factory=dict)
    # Retroactive re-audit findings in the range (``include_findings``); None: not asked for.
    findings: pd.DataFrame | None = None
    unprompted: pd.DataFrame = field(default_factory=lambda: _frame([], UNPROMPTED_COLUMNS))

    def to_frame(self) -> pd.DataFrame:
        """The table written to CSV / Parquet: :attr:`summary`."""
        return self.summary

    def totals(self) -> pd.DataFrame:
        """Per artist over the whole range (no period)."""
        s = self.summary
        if s.empty:
            return s.drop(columns=["period"])
        g = s.groupby(["artist_id"], sort=True).agg(
            artist_name=("artist_name", "last"), consent=("consent", "last"), generations=("generations", "sum"),
            share_sum=("share_sum", "sum"), royalties=("royalties", "sum"), royalties_held=("royalties_held", "sum"),
            blocked_on_behalf=("blocked_on_behalf", "sum"), unprompted_style=("unprompted_style", "sum"),
        ).reset_index()
        return g

    @property
    def total_royalties(self) -> float:
        """Royalties owed to verified artists (held shares excluded)."""
        if self.rows.empty:
            return 0.0
        return float(self.rows["royalty"][~self.rows["held"].astype(bool)].sum())

    @property
    def total_held(self) -> float:
        """Royalties recorded for unverified artists, held until they are verified."""
        if self.rows.empty:
            return 0.0
        return float(self.rows["royalty"][self.rows["held"].astype(bool)].sum())


def build_attribution_report(
    source: EntrySource,
    *,
    policy: Policy | None = None,
    registry: Any = None,
    period: str = "month",
    since: TimeBound = None,
    until: TimeBound = None,
    include_findings: bool = False,
) -> AttributionReport:
    """Build the report from an :class:`AuditLog` (or its path, or entry dicts).

    ``registry`` supplies per-artist royalty rates: a RegistryStore, Artists, or ``{id: rate}``;
    an artist without one gets ``policy.attribution.default_royalty_rate``. ``since``/``until``
    (dates, datetimes or ISO strings; UTC) keep entries with ``since <= time < until``.
    Raises :class:`ReportError` (an AuditError and a ValueError) naming the entry when an allowed
    generation's attribution shares do not sum to 1. ``include_findings`` adds the range's
    retroactive re-audit findings (``scan.finding`` entries, see :mod:`.findings`).
    """
    if period not in PERIODS:
        raise ReportError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    policy = policy if policy is not None else load_policy()
    price = float(policy.attribution.price_per_generation)
    default_rate = float(policy.attribution.default_royalty_rate)
    rates = artist_rates(registry)
    paid: list[tuple[Any, ...]] = []
    blocked_items: list[tuple[Any, ...]] = []
    unprompted_items: list[tuple[Any, ...]] = []
    decided: list[tuple[str, str]] = []
    for entry, record in _generations(iter_generation_entries(source, since, until)):  # one pass, one parse each
        paid.extend(_attribution_items(entry, record, price, default_rate, rates))
        blocked_items.extend(_blocked_items(entry, record))
        unprompted_items.extend(_unprompted_items(entry, record))
        decided.append((entry.time, str(record.action)))
    rows, blocked = _frame(paid, ROW_COLUMNS), _frame(blocked_items, BLOCKED_COLUMNS)
    unprompted = _frame(unprompted_items, UNPROMPTED_COLUMNS)
    return AttributionReport(
        summary=summarize(rows, blocked, period, unprompted),
        rows=rows,
        blocked=blocked,
        decisions=_decision_frame(decided, period),
        period=period,
        price_per_generation=price,
        default_royalty_rate=default_rate,
        since=to_iso(since),
        until=to_iso(until),
        meta={"policy_version": policy.version, "generations": len(decided)},
        findings=_findings(source, since, until) if include_findings else None,
        unprompted=unprompted,
    )


def _findings(source: EntrySource, since: TimeBound, until: TimeBound) -> pd.DataFrame:
    from .findings import findings_frame

    return findings_frame(source, since, until)


def _frame(rows: Sequence[Mapping[str, Any] | tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    if rows:
        if isinstance(rows[0], tuple):
            return pd.DataFrame.from_records(rows, columns=columns)
        return pd.DataFrame(rows, columns=columns)
    dtypes = {
        "seq": "int64", "artist_id": "int64", "generations": "int64", "blocked_on_behalf": "int64", "count": "int64",
        "unprompted_style": "int64",
        "share": "float64", "rate": "float64", "royalty": "float64", "held": "bool", "share_sum": "float64", "royalties": "float64",
    }
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, "str")) for c in columns})
