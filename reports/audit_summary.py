"""A summary of audited decisions: counts by action and evidence kind, and how scores sit
around their thresholds (to see whether a threshold is cutting through a crowd of cases).

Reads ``check.prompt``, ``check.image`` and ``generate`` entries. Write it with
:func:`stylegate.reports.render.write_report` like the attribution report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stylegate.errors import ReportError
from stylegate.governance.audit import AuditEntry, DecisionRecord
from stylegate.governance.audit.entry import DECISION_KINDS as AUDIT_DECISION_KINDS

from ._source import EntrySource, TimeBound, iter_entries, to_iso

__all__ = ["DECISION_KINDS", "AuditSummary", "build_audit_summary", "near_threshold_table", "score_rows"]

DECISION_KINDS = tuple(k.value for k in AUDIT_DECISION_KINDS)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

SCORE_COLUMNS = ["seq", "time", "entry_kind", "decision", "evidence_kind", "artist_id", "artist_name", "consent",
                 "score", "threshold", "delta", "rule", "action"]
NEAR_COLUMNS = ["evidence_kind", "n", "threshold", "near", "above", "below", "min",
                *[f"q{int(q * 100):02d}" for q in QUANTILES], "max"]
_DTYPES = {"seq": "int64", "artist_id": "int64", "count": "int64", "n": "int64", "near": "int64", "above": "int64",
           "below": "int64"}


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=_DTYPES.get(c, "float64" if c in (
        "score", "threshold", "delta", "min", "max") or c.startswith("q") else "str")) for c in columns})


def _score_items(entry: AuditEntry, record: DecisionRecord) -> list[tuple[Any, ...]]:
    """The SCORE_COLUMNS tuples of one decision entry."""
    out = []
    for ev in record.evidence:
        score, threshold = ev.score, ev.threshold
        if score is None or threshold is None:
            raise ReportError(f"audit entry {entry.seq}: evidence without a numeric score and threshold")
        out.append((entry.seq, entry.time, entry.kind, str(record.action), ev.kind,
                    -1 if ev.artist.id is None else ev.artist.id, ev.artist.name, ev.consent, score, threshold,
                    score - threshold, ev.rule, ev.action))
    return out


def _score_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=SCORE_COLUMNS) if rows else _empty(SCORE_COLUMNS)


def score_rows(entries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per piece of evidence: its score, threshold and ``delta = score − threshold``."""
    rows: list[tuple[Any, ...]] = []
    for raw in entries:
        entry = AuditEntry.from_dict(raw)
        rows.extend(_score_items(entry, entry.decision()))
    return _score_frame(rows)


def near_threshold_table(scores: pd.DataFrame, margin: float = 0.05) -> pd.DataFrame:
    """Per evidence kind: count, modal threshold, how many lie within ±``margin`` of their threshold,
    above/below it, and quantiles of ``score − threshold``."""
    if scores.empty:
        return _empty(NEAR_COLUMNS)
    out = []
    eps = 1e-9
    for kind, g in scores.groupby("evidence_kind", sort=True):
        d = g["delta"].to_numpy(dtype=float)
        qs = np.quantile(d, QUANTILES)
        out.append({
            "evidence_kind": str(kind), "n": int(len(d)), "threshold": float(g["threshold"].mode().iloc[0]),
            "near": int((np.abs(d) <= margin + eps).sum()), "above": int((d >= 0).sum()), "below": int((d < 0).sum()),
            "min": float(d.min()), **{f"q{int(q * 100):02d}": float(v) for q, v in zip(QUANTILES, qs)},
            "max": float(d.max()),
        })
    return pd.DataFrame(out, columns=NEAR_COLUMNS)


@dataclass
class AuditSummary:
    decisions: pd.DataFrame  # entry_kind, decision, count
    by_evidence: pd.DataFrame  # evidence_kind, decision, entries (entries with that evidence kind), evidence (items)
    near_threshold: pd.DataFrame
    scores: pd.DataFrame
    margin: float = 0.05
    since: str | None = None
    until: str | None = None
    title: str = "Audit summary"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The table written to CSV / Parquet: :attr:`decisions`."""
        return self.decisions

    def histograms(self, half_width: float = 0.3, bins: int = 12) -> dict[str, pd.DataFrame]:
        """Per evidence kind, counts of ``score − threshold`` in ``bins`` equal bins over
        ±``half_width`` (values outside are counted in the end bins)."""
        out: dict[str, pd.DataFrame] = {}
        if self.scores.empty:
            return out
        edges = np.linspace(-half_width, half_width, bins + 1)
        labels = [f"{a:+.2f}…{b:+.2f}" for a, b in zip(edges[:-1], edges[1:])]
        for kind, g in self.scores.groupby("evidence_kind", sort=True):
            d = np.clip(g["delta"].to_numpy(dtype=float), -half_width, half_width)
            counts, _ = np.histogram(d, bins=edges)
            out[str(kind)] = pd.DataFrame({"bin": labels, "count": counts.astype("int64")})
        return out


def build_audit_summary(
    source: EntrySource,
    *,
    kinds: Sequence[str] = DECISION_KINDS,
    margin: float = 0.05,
    since: TimeBound = None,
    until: TimeBound = None,
) -> AuditSummary:
    """Summarise decision entries of ``kinds`` with ``since <= time < until`` (UTC)."""
    if not margin >= 0:
        raise ReportError(f"margin must be a non-negative number, not {margin!r}")
    counts: Counter[tuple[str, str]] = Counter()
    score_items: list[tuple[Any, ...]] = []
    for raw in iter_entries(source, kinds=list(kinds), since=since, until=until):  # streamed, parsed once
        entry = AuditEntry.from_dict(raw)
        record = entry.decision()
        counts[(entry.kind, str(record.action))] += 1
        score_items.extend(_score_items(entry, record))
    n = sum(counts.values())
    if counts:
        decisions = pd.DataFrame.from_records(
            [(k, d, c) for (k, d), c in sorted(counts.items())], columns=["entry_kind", "decision", "count"])
        decisions["count"] = decisions["count"].astype("int64")
    else:
        decisions = _empty(["entry_kind", "decision", "count"])
    scores = _score_frame(score_items)
    if scores.empty:
        by_evidence = _empty(["evidence_kind", "decision", "entries", "evidence"])
    else:
        by_evidence = scores.groupby(["evidence_kind", "decision"], sort=True).agg(
            entries=("seq", "nunique"), evidence=("seq", "size")).reset_index()
        by_evidence[["entries", "evidence"]] = by_evidence[["entries", "evidence"]].astype("int64")
    return AuditSummary(
        decisions=decisions, by_evidence=by_evidence, near_threshold=near_threshold_table(scores, margin),
        scores=scores, margin=float(margin), since=to_iso(since), until=to_iso(until),
        meta={"entries": n},
    )
