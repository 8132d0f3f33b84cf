"""Building response bodies from registry objects (shared by the API and the pages)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .context import ServiceContext

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.registry.models import Work


def work_out(work: Work) -> dict[str, Any]:
    d = work.to_dict()
    return {k: d[k] for k in ("id", "sha256", "format", "width", "height", "size_bytes", "added_at")}


def artist_out(ctx: ServiceContext, artist_id: int, *, private: bool = True) -> dict[str, Any]:
    """An artist with their works; ``private`` adds the contact address (owner and admin only)."""
    ws = ctx.workspace
    artist = ws.store.get_artist(artist_id)
    account = ctx.accounts.find(artist_id)
    out = artist.to_dict()
    out["verified"] = artist.verified  # operator-registered artists have no account and are verified
    out["contact"] = account.contact if (account and private) else None
    out["contact_confirmed"] = bool(account and account.contact_confirmed)
    out["works"] = [work_out(w) for w in ws.store.list_works(artist_id)]
    return out


def artist_counts(ctx: ServiceContext, artist_id: int) -> dict[str, Any]:
    """Attribution and block counts for one artist, from the audit log (all time)."""
    from stylegate.governance.audit import AuditEntry, AuditKind
    from stylegate.reports.attribution import build_attribution_report

    ws = ctx.workspace
    report = build_attribution_report(ws.audit, policy=ws.policy, registry=ws.store)
    totals = report.totals()
    row = totals[totals["artist_id"] == artist_id] if not totals.empty else totals
    out: dict[str, Any] = {"generations": 0, "share_sum": 0.0, "royalties": 0.0, "blocked_on_behalf": 0, "unprompted_style": 0}
    if not row.empty:
        r = row.iloc[0]
        out = {"generations": int(r["generations"]), "share_sum": float(r["share_sum"]),
               "royalties": float(r["royalties"]), "blocked_on_behalf": int(r["blocked_on_behalf"]),
               "unprompted_style": int(r["unprompted_style"])}
    out["attribution_basis"] = ws.policy.attribution.basis
    checks = (AuditEntry.from_dict(e).decision() for e in ws.audit.entries(kinds=[AuditKind.CHECK_PROMPT, AuditKind.CHECK_IMAGE]))
    out["checks_blocked"] = sum(
        1 for record in checks
        if record.action == "block" and any(ev.artist.id == artist_id and ev.action == "block" for ev in record.evidence))
    return out
