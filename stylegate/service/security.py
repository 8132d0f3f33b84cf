"""Who is asking: artist API tokens (bearer), portal sessions (cookie), admin token, ownership.

The portal's cookie holds a server-side session id, never the API token: an API token put in
the cookie opens nothing. A bearer token that authenticates is trusted by the rate limiter
with a bucket of its own; one that does not is charged to the client's address.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .context import ServiceContext
from .schemas import ArtistId

SESSION_COOKIE = "sg_session"
PRESESSION_COOKIE = "sg_csrf"  # a random value before sign-in; forms carry its HMAC (double submit)

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
        ctx.limits.distrust(token)
        raise _unauthorised("invalid or revoked API token")
    ctx.limits.trust(token)
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
    """The portal user's artist id and session id from the session cookie, or None (no
    cookie, an unknown or expired session, or something that is not a session id)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    with ctx.lock:
        artist_id = ctx.accounts.session_artist(session_id, now=ctx.now())
    return None if artist_id is None else (artist_id, session_id)
