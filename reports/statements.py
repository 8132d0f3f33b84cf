"""The royalty statement model: per artist and period, the attributed generations as lines.

A line is one allowed generation attributed to a royalty or credit artist, read from the audit
log through the same typed records as the attribution report (``reports.attribution``):
``amount = price_per_generation × share × rate`` (credit artists have rate 0), and a
generation whose correction says no image was written earns nothing and is not listed.
Signing, proofs and files are the operation's job (``stylegate.operations.statements``); the
document format is checked by ``stylegate.governance.audit.statement_verify``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from stylegate.governance.audit import AuditEntry, AuditKind

from ._source import EntrySource
from .attribution import _generation_entries as generation_entries
from .attribution import artist_rates, attribution_rows
from .statement_period import Period

PAID_CONSENTS = ("royalty", "credit")


@dataclass(frozen=True)
class Line:
    seq: int
    time: str
    share: float
    rate: float
    price: float
    amount: float
    held: bool  # an unverified artist's share: owed, but held until they are verified
    decision: str
    evidence: list[dict[str, Any]]  # this artist's evidence: kind, score, threshold, rule

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ArtistLines:
    artist_id: int
    name: str
    consent: str
    verified: bool
    lines: list[Line] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        amounts = [line.amount for line in self.lines]
        return {
            "lines": len(self.lines),
            "share_sum": math.fsum(line.share for line in self.lines),
            "amount": math.fsum(amounts),
            "amount_held": math.fsum(line.amount for line in self.lines if line.held),
            "amount_payable": math.fsum(line.amount for line in self.lines if not line.held),
        }


def _evidence(entries: Iterable[Mapping[str, Any]]) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """``{(seq, artist id): [evidence summary]}`` for generation entries."""
    out: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for raw in entries:
        if raw.get("kind") != AuditKind.GENERATE:
            continue
        entry = AuditEntry.from_dict(raw)
        for ev in entry.decision().evidence:
            if ev.artist.id is None:
                continue
            out.setdefault((entry.seq, ev.artist.id), []).append(
                {"kind": ev.kind, "score": ev.score, "threshold": ev.threshold, "rule": ev.rule})
    return out


def collect_lines(
    source: EntrySource,
    period: Period,
    *,
    cutoff: str,
    price_per_generation: float,
    default_royalty_rate: float,
    registry: Any = None,
) -> dict[int, ArtistLines]:
    """Every royalty and credit artist's lines for ``period.since <= time < cutoff``.

    ``registry`` (a RegistryStore) adds the registered royalty and credit artists that have no
    line (their statement commits to zero) and supplies rates and verification; the artist's
    name and consent are the latest the log recorded, else the registry's.
    """
    entries = generation_entries(source, period.since, cutoff)
    rows = attribution_rows(entries, price_per_generation=price_per_generation,
                            default_royalty_rate=default_royalty_rate, rates=artist_rates(registry))
    evidence = _evidence(entries)
    artists: dict[int, ArtistLines] = {}
    registered = registry.list_artists() if registry is not None and hasattr(registry, "list_artists") else []
    for a in registered:
        consent = str(getattr(a.consent, "value", a.consent))
        if consent in PAID_CONSENTS:
            artists[int(a.id)] = ArtistLines(int(a.id), a.name, consent, bool(getattr(a, "verified", True)))
    for r in rows.sort_values("seq", kind="stable").itertuples(index=False):
        aid = int(r.artist_id)
        group = artists.get(aid)
        if group is None:
            group = artists[aid] = ArtistLines(aid, str(r.artist_name), str(r.consent), not bool(r.held))
        group.lines.append(Line(
            seq=int(r.seq), time=str(r.time), share=float(r.share), rate=float(r.rate), price=float(price_per_generation),
            amount=float(r.royalty), held=bool(r.held), decision=str(r.decision), evidence=evidence.get((int(r.seq), aid), []),
        ))
    return dict(sorted(artists.items()))
