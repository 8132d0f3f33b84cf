"""Royalty and credit attribution shares from a decision's evidence.

A generation has two sides: what was *asked for* (the prompt, the input images the user
supplied) and what came *out* (the output image). The policy's ``attribution.basis`` says
which side can create a credit:

- ``requested`` (the default): an artist is credited only when the request carries evidence
  for them (their name, their described style, their work as an input). The output image's
  style evidence confirms and apportions (it raises that artist's weight) but cannot credit
  on its own: a model paints *some* style on every image, and resembling a registered style
  is not proof that it was used (drift into a default style, a neighbouring unregistered
  style). Such image-only matches are kept as ``unprompted_style`` candidates: recorded in the
  decision and the audit entry, shown in reports, not paid. "You are paid when your style
  was asked for" is a rule an artist can check line by line on a statement.
- ``observed``: any evidence credits, the output image's style alone included (the rule before
  this setting existed).

A near-duplicate of a work in the output is a copy of that work, not a resemblance, so it
credits under either basis (the shipped policy blocks it for every consent state anyway).
The opt-out gate does not read any of this: blocking and steering use every piece of
evidence, the output image's style included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from stylegate.governance.decision import Action, Attribution, Evidence, EvidenceKind, kind_text
from stylegate.registry.models import Consent

ATTRIBUTED_CONSENTS = (Consent.ROYALTY, Consent.CREDIT)

Basis = Literal["requested", "observed"]
BASES: tuple[Basis, ...] = ("requested", "observed")

# Output-side evidence kinds that may confirm a requested credit but not create one.
_RESEMBLANCE_KINDS = frozenset({kind_text(EvidenceKind.STYLE)})


@dataclass(frozen=True)
class UnpromptedCredit:
    """An artist whose style the output image matched although nothing in the request asked
    for it: recorded, not paid (``attribution.basis = "requested"``)."""

    artist: Any  # an ArtistRef
    consent: str
    kind: str
    score: float
    threshold: float
    verified: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"artist": self.artist.to_dict(), "consent": self.consent, "kind": self.kind,
                "score": round(float(self.score), 4), "threshold": round(float(self.threshold), 4),
                "weight": round(_weight(self.score, self.threshold), 4), "paid": False}


@dataclass(frozen=True)
class AttributionOutcome:
    shares: list[Attribution] = field(default_factory=list)
    unprompted: list[UnpromptedCredit] = field(default_factory=list)


def _weight(score: float, threshold: float) -> float:
    """Score over threshold, so that evidence kinds on different scales compare."""
    return score / threshold if threshold > 0 else score


def _qualifies(item: Evidence, floor: float) -> bool:
    return (item.consent in ATTRIBUTED_CONSENTS and item.action is Action.ATTRIBUTE
            and item.score >= floor and item.score >= item.threshold)


def attribute(request: Sequence[Evidence], output: Sequence[Evidence], *, floor: float,
              basis: Basis = "requested", hold_unverified: bool = True) -> AttributionOutcome:
    """Shares among royalty/credit artists whose evidence passed its threshold and ``floor``.

    ``request``: evidence from what was asked for (prompt, input images); ``output``: evidence
    from the generated image. Which artists are eligible follows ``basis`` (see the module
    doc); each eligible artist weighs in with its strongest evidence on either side, and
    shares are normalised to sum to 1. An unverified artist's share is marked ``held`` when
    ``hold_unverified``.
    """
    if basis not in BASES:
        raise ValueError(f"attribution basis must be one of {', '.join(BASES)}, not {basis!r}")
    best: dict[int, tuple[float, Evidence]] = {}
    eligible: set[int] = set()
    for side, items in (("request", request), ("output", output)):
        for item in items:
            if not _qualifies(item, floor):
                continue
            if side == "request" or basis == "observed" or kind_text(item.kind) not in _RESEMBLANCE_KINDS:
                eligible.add(item.artist.id)
            weight = _weight(item.score, item.threshold)
            if item.artist.id not in best or weight > best[item.artist.id][0]:
                best[item.artist.id] = (weight, item)
    paid = {aid: v for aid, v in best.items() if aid in eligible}
    unprompted = [UnpromptedCredit(e.artist, e.consent, kind_text(e.kind), e.score, e.threshold, e.verified)
                  for aid, (_, e) in best.items() if aid not in eligible]
    unprompted.sort(key=lambda u: (-_weight(u.score, u.threshold), u.artist.id))
    total = sum(weight for weight, _ in paid.values())
    if total <= 0:
        return AttributionOutcome([], unprompted)
    shares = [Attribution(e.artist, weight / total, e.consent, held=hold_unverified and not e.verified)
              for weight, e in paid.values()]
    return AttributionOutcome(sorted(shares, key=lambda a: (-a.share, a.artist.id)), unprompted)


def attribution_shares(evidence: list[Evidence], floor: float, hold_unverified: bool = True) -> list[Attribution]:
    """Shares for a single check (a prompt, or an image on its own): all its evidence is the
    subject's own, so every qualifying artist is eligible."""
    return attribute(evidence, [], floor=floor, hold_unverified=hold_unverified).shares
