"""/v1/artists: sign up, read, change and delete your own registration; rotate your token."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends

from stylegate.operations.ingest import remove_artist

from ..actions import mail_confirmation, sign_up
from ..context import ServiceContext
from ..responses import AUTH_ERRORS, INVALID, LIMIT_ERRORS
from ..schemas import (
    ArtistOut,
    ArtistUpdate,
    ConfirmationOut,
    Deleted,
    ErrorOut,
    SignUp,
    SignUpOut,
    TokenOut,
)
from ..security import current_artist, get_ctx, owner
from ..views import artist_out

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/artists", tags=["artists"])





@router.post("", status_code=201, response_model=SignUpOut,
             responses={409: {"model": ErrorOut, "description": "name taken"}, **INVALID, **LIMIT_ERRORS})
def create_artist(body: SignUp, ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Sign up: register your name, aliases, style descriptors and consent. The response
    carries your API token once; only its hash is stored. When the server has mail set up,
    a confirmation link goes to the contact address."""
    artist_id, token = sign_up(ctx, body)
    mail = mail_confirmation(ctx, artist_id)
    with ctx.using():
        return {"artist": artist_out(ctx, artist_id), "token": token, "confirmation_mail": mail}


@router.get("/me", response_model=ArtistOut, responses={**AUTH_ERRORS, **LIMIT_ERRORS})
def read_me(me: int = Depends(current_artist), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """The registration the token belongs to."""
    with ctx.using():
        return artist_out(ctx, me)


@router.get("/{artist_id:int}", response_model=ArtistOut, responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS})
def read_artist(artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Your registration, works included."""
    with ctx.using():
        return artist_out(ctx, artist_id)


@router.patch("/{artist_id:int}", response_model=ArtistOut,
              responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS,
                         409: {"model": ErrorOut, "description": "an alias is claimed by another artist"}})
def update_artist(body: ArtistUpdate, artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Change your aliases, descriptors, consent or contact. Takes effect on the next check."""
    new_contact = False
    with ctx.using() as ws:
        with ws.store.transaction() as tx:
            ws.store.update_artist(artist_id, aliases=body.aliases, descriptors=body.descriptors,
                                   consent=body.consent, tx=tx)
            if body.contact is not None:
                before = ctx.accounts.get(artist_id, tx).contact
                new_contact = ctx.accounts.update(artist_id, contact=body.contact, tx=tx).contact != before
    if new_contact:  # a new address: confirm it again
        mail_confirmation(ctx, artist_id)
    with ctx.using():
        return artist_out(ctx, artist_id)


@router.delete("/{artist_id:int}", response_model=Deleted, responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS})
def delete_artist(artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Delete your registration, your works and their vectors in the style index (portal
    sessions and pending confirmations go with the account)."""
    with ctx.using() as ws:
        _, works = remove_artist(ws, str(artist_id))
    return {"deleted": True, "artist_id": artist_id, "works_removed": len(works)}


@router.post("/{artist_id:int}/token", response_model=TokenOut, responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS})
def rotate_token(artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Issue a new API token; the old one stops working at once, and so do all portal sessions."""
    with ctx.using():
        return {"token": ctx.accounts.rotate_token(artist_id)}


@router.post("/{artist_id:int}/contact/confirmation", response_model=ConfirmationOut,
             responses={**AUTH_ERRORS, **INVALID, **LIMIT_ERRORS})
def resend_confirmation(artist_id: int = Depends(owner), ctx: ServiceContext = Depends(get_ctx)) -> dict:
    """Mail a new confirmation link to your contact address (earlier links stop working)."""
    return {"confirmation_mail": mail_confirmation(ctx, artist_id)}
