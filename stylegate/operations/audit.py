"""Decision stamping: every check and generation is appended to the audit log, and the
decision learns the sequence number of its entry."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.audit import AuditKind
    from stylegate.governance.decision import Decision
    from stylegate.workspace import Workspace

log = logging.getLogger(__name__)


def record_decision(ws: Workspace, kind: AuditKind, decision: Decision | dict[str, Any], prompt: str | None = None,
                    **extra: Any) -> int:
    """Append a check or generation to ``ws``'s audit log and stamp the decision with its seq.

    The prompt is logged in full or as its sha256 only, as the policy says. The style index's
    identity is written when the index is already open (recording never loads it).
    """
    from stylegate.governance.audit import DecisionRecord

    index = ws.gate_cache.index
    index_identity = None
    if index is not None:
        index_identity = {"factory": index.factory, "count": len(index), "snapshot_hash": index.snapshot_hash}
    plain = decision if isinstance(decision, dict) else decision.to_dict()
    record = DecisionRecord.from_decision(plain, prompt=prompt, index=index_identity, **extra)
    seq = ws.audit.append(kind, record, prompt_mode=ws.policy.prompt.log)
    if isinstance(decision, dict):
        decision["audit_seq"] = seq
    else:
        decision.audit_seq = seq
    return seq


def audit_public_key(ws: Workspace) -> Any:
    """The path of the home's audit public key, or None when no key was made yet."""
    from stylegate.governance.audit.signing import key_paths

    public = key_paths(ws.settings.home)[1]
    return public if public.exists() else None


def artist_counts(ws: Workspace, artist_id: int) -> dict[str, Any]:
    """One artist's dashboard figures (all time) from the audit log's per-artist counters.

    O(1) in the size of the log: the counters are kept by every append (see
    :mod:`stylegate.governance.audit.counters`). Royalties owed are priced as the attribution
    report prices them: ``price_per_generation × rate × payable share``, with the artist's
    registry rate or the policy's default; held (unverified) shares are reported apart.
    """
    from stylegate.errors import ArtistNotFound
    from stylegate.governance.audit.counters import MICROS

    counts = ws.audit.counters(artist_id).get(int(artist_id), {})
    attribution = ws.policy.attribution
    try:
        rate = ws.store.get_artist(artist_id).royalty_rate
    except ArtistNotFound:
        rate = None
    rate = float(attribution.default_royalty_rate) if rate is None else float(rate)
    price = float(attribution.price_per_generation)
    return {
        "generations": counts.get("generations", 0),
        "share_sum": counts.get("share_micros", 0) / MICROS,
        "royalties": price * rate * counts.get("royalty_micros", 0) / MICROS,
        "royalties_held": price * rate * counts.get("royalty_held_micros", 0) / MICROS,
        "blocked_on_behalf": counts.get("blocked_generations", 0),
        "checks_blocked": counts.get("blocked_checks", 0),
        "unprompted_style": counts.get("unprompted_style", 0),
        "attribution_basis": attribution.basis,
    }
