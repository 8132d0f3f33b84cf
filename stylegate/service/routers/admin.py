"""/v1/admin: privileged changes (verified flag, royalty rate), behind the admin token."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from ..context import ServiceContext
from ..responses import INVALID, LIMIT_ERRORS
from ..schemas import MAX_ID, AdminArtistUpdate, ArtistId, ArtistOut, Deleted, DisputeDecision, DisputeOut, ErrorOut
from ..security import get_ctx, require_admin
from ..views import artist_out

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])
ADMIN_ERRORS = {401: {"model": ErrorOut, "description": "missing admin token"},
                403: {"model": ErrorOut, "description": "not an admin token, or admin routes off"},
                **LIMIT_ERRORS}


@router.get("/artists", response_model=list[ArtistOut], responses=ADMIN_ERRORS)
def list_artists(ctx: ServiceContext = Depends(get_ctx)) -> list[dict]:
    with ctx.using() as ws:
        return [artist_out(ctx, a.id) for a in ws.store.list_artists()]


@router.patch("/artists/{artist_id:int}", response_model=ArtistOut,
              responses={**ADMIN_ERRORS, **INVALID, 404: {"model": ErrorOut, "description": "no such artist"}})
def update_artist(artist_id: ArtistId, body: AdminArtistUpdate, ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Verify an artist or set their royalty rate (royalty consent only)."""
    with ctx.using() as ws:
        with ws.store.transaction() as tx:
            ws.store.get_artist(artist_id, tx=tx)
            if body.clear_royalty_rate:
                ws.store.update_artist(artist_id, royalty_rate=None, tx=tx)
            elif body.royalty_rate is not None:
                ws.store.update_artist(artist_id, royalty_rate=body.royalty_rate, tx=tx)
            if body.verified is not None:
                ctx.accounts.update(artist_id, verified=body.verified, tx=tx)
        return artist_out(ctx, artist_id)


@router.delete("/artists/{artist_id:int}", response_model=Deleted,
               responses={**ADMIN_ERRORS, **INVALID, 404: {"model": ErrorOut, "description": "no such artist"}})
def delete_artist(artist_id: ArtistId, ctx: ServiceContext = Depends(get_ctx)) -> dict:
    with ctx.using() as ws:
        from stylegate.operations.ingest import remove_artist

        _, works = remove_artist(ws, str(artist_id))
    return {"deleted": True, "artist_id": artist_id, "works_removed": len(works)}


DisputeId = Annotated[int, Path(ge=1, le=MAX_ID, description="the dispute's id")]


@router.get("/disputes", response_model=list[DisputeOut], responses={**ADMIN_ERRORS, **INVALID})
def list_disputes(status: Literal["open", "granted", "rejected", "all"] = Query("open"),
                  ctx: ServiceContext = Depends(get_ctx)) -> list[dict]:
    """Names and aliases that collide with another artist's, recorded for an administrator."""
    with ctx.using() as ws:
        return [d.to_dict() for d in ws.store.list_disputes(None if status == "all" else status)]


@router.post("/disputes/{dispute_id:int}", response_model=DisputeOut,
             responses={**ADMIN_ERRORS, **INVALID, 404: {"model": ErrorOut, "description": "no such dispute"}})
def decide_dispute(dispute_id: DisputeId, body: DisputeDecision, ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Grant the claimant the label (taking it from the holder's aliases) or reject the claim."""
    with ctx.using() as ws:
        return ws.store.resolve_dispute(dispute_id, body.grant).to_dict()
