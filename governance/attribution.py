"""Royalty and credit attribution shares from a decision's evidence."""

from __future__ import annotations

from stylegate.governance.decision import Action, Attribution, Evidence
from stylegate.registry.models import Consent

ATTRIBUTED_CONSENTS = (Consent.ROYALTY, Consent.CREDIT)


def attribution_shares(evidence: list[Evidence], floor: float, hold_unverified: bool = True) -> list[Attribution]:
    """Shares among royalty/credit artists whose evidence passed its threshold and ``floor``.

    Each artist weighs in with its strongest evidence, measured as score over threshold so
    that evidence kinds on different scales compare; shares are normalised to sum to 1. An
    unverified artist's share is marked ``held`` when ``hold_unverified``.
    """
    best: dict[int, tuple[float, Evidence]] = {}
    for item in evidence:
        if item.consent not in ATTRIBUTED_CONSENTS or item.action is not Action.ATTRIBUTE:
            continue
        if item.score < floor or item.score < item.threshold:
            continue
        weight = item.score / item.threshold if item.threshold > 0 else item.score
        if item.artist.id not in best or weight > best[item.artist.id][0]:
            best[item.artist.id] = (weight, item)
    total = sum(weight for weight, _ in best.values())
    if total <= 0:
        return []
    shares = [Attribution(e.artist, weight / total, e.consent, held=hold_unverified and not e.verified)
              for weight, e in best.values()]
    return sorted(shares, key=lambda a: (-a.share, a.artist.id))
