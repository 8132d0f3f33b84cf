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
    """Attribution and block counts for one artist (all time), from the audit log's counters."""
    from stylegate.operations.audit import artist_counts as counts

    return counts(ctx.workspace, artist_id)
