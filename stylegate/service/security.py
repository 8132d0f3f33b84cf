"""Who is asking: artist tokens (API bearer or portal cookie), admin token, object ownership."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .context import ServiceContext
from .schemas import ArtistId

SESSION_COOKIE = "sg_session"

# The bearer schemes as OpenAPI documents them; the checks themselves are below (auto_error off,
# so a missing or malformed header reaches them and gets the same 401 as an unknown token).
artist_auth = HTTPBearer(auto_error=False, scheme_name="ArtistToken",
                         description="the API token from sign-up (or from the latest rotation)")
admin_auth = HTTPBearer(auto_error=False, scheme_name="AdminToken",
                        description="the administrator token (STYLEGATE_ADMIN_TOKEN)")


def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


def bearer_token(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def current_artist(request: Request, ctx: ServiceContext = Depends(get_ctx),
                   _scheme: HTTPAuthorizationCredentials | None = Security(artist_auth)) -> int:
    """The id of the artist whose API token came with the request (401 otherwise)."""
    token = bearer_token(request)
    if token is None:
        raise _unauthorised("missing bearer token: send 'Authorization: Bearer <your API token>'")
    with ctx.lock:
        artist_id = ctx.accounts.authenticate(token)
    if artist_id is None:
        raise _unauthorised("invalid or revoked API token")
    return artist_id


def owner(artist_id: ArtistId, me: int = Depends(current_artist)) -> int:
    """Object-level authorisation: the path's artist must be the token's artist (403 otherwise)."""
    if artist_id != me:
        raise HTTPException(403, "this token belongs to another artist")
    return artist_id


def require_admin(request: Request, ctx: ServiceContext = Depends(get_ctx),
                  _scheme: HTTPAuthorizationCredentials | None = Security(admin_auth)) -> None:
    if ctx.settings.admin_token is None:
        raise HTTPException(403, "admin routes are off: set STYLEGATE_ADMIN_TOKEN to enable them")
    token = bearer_token(request)
    if token is None:
        raise _unauthorised("missing admin bearer token")
    if not ctx.admin_ok(token):
        raise HTTPException(403, "not an admin token")


def session_artist(request: Request, ctx: ServiceContext) -> tuple[int, str] | None:
    """The portal user's artist id and token from the session cookie, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with ctx.lock:
        artist_id = ctx.accounts.authenticate(token)
    return None if artist_id is None else (artist_id, token)
