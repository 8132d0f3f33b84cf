"""Request limits: token-bucket rate limits (429) and per-route body size limits (413).

Both are plain ASGI middleware, so they act before any body is parsed or any handler runs.

Who a request counts against:

- By default its client **address**. A bearer token does not by itself buy a bucket of its
  own: anyone can make up tokens, so an unknown or invalid one (and the 401 it earns) is
  charged to the address, and a flood of made-up tokens ends in 429 without a database
  lookup per request beyond the address's allowance.
- A token that has **authenticated** (the auth dependency calls :meth:`Limits.trust` after a
  successful lookup) gets a bucket of its own for a while, so artists behind one address do
  not starve each other. A 401 for that token withdraws the trust at once.
- Sign-up, sign-in and confirmation mail are charged to the address in a second, tighter
  limiter as well (they create rows, sessions and mail).

What a request costs: one token, taken by :class:`RateLimitMiddleware` before the body is
read. The bulk routes (:data:`BULK_ROUTES`) cost **one token per item**: once the body is
parsed, the handler calls :meth:`Limits.charge_items` for the other ``n - 1``, so 10,000 names
cost what 10,000 single requests cost. The extra tokens are taken all at once or not at all
(429 with ``Retry-After``: the seconds until the bucket holds them); a request of more items
than the bucket can ever hold (its burst) is refused with 413, since waiting would not help.
Bulk requests answer in JSON lines and may send a body of :func:`bulk_body_limit` bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from starlette.exceptions import HTTPException

from stylegate.errors import StylegateError
from stylegate.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TRUST_SECONDS = 300.0  # how long a token that authenticated keeps its own bucket without a re-check
MAX_TRUSTED = 50_000
ACCOUNT_ROUTES = {("POST", "/v1/artists"), ("POST", "/signup"), ("POST", "/login"),
                  ("POST", "/dashboard/confirm-contact")}
_RESEND = re.compile(r"^/v1/artists/\d+/contact/confirmation$")
_UPLOADS = re.compile(r"^/v1/artists/\d+/works/?$")
BULK_ROUTES = {("POST", "/v1/check/prompts"), ("POST", "/v1/lookup/names")}
NDJSON = "application/x-ndjson"
BULK_BODY_FACTOR = 64  # a bulk body may be 64 x the JSON cap: 4 MiB by default


async def _json_error(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by client: ``burst`` requests at once, refilled at ``per_minute``."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens for ``key``, all or none: 0.0 if allowed, else the seconds until
        that many are free (``math.inf`` when ``cost`` is more than the bucket ever holds)."""
        if cost > self.burst:
            return math.inf
        now = self.clock()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                if len(self._buckets) > 100_000:  # forget idle clients rather than grow forever
                    self._buckets.clear()
                b = self._buckets[key] = _Bucket(self.burst, now)
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            if b.tokens >= cost:
                b.tokens -= cost
                return 0.0
            return (cost - b.tokens) / self.rate


def _digest(token: str | bytes) -> str:
    raw = token.encode() if isinstance(token, str) else token
    return hashlib.sha256(raw).hexdigest()[:32]


class TrustedTokens:
    """Digests of bearer tokens that recently authenticated (bounded, expiring)."""

    def __init__(self, seconds: float = TRUST_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, token: str) -> None:
        with self._lock:
            self._until[_digest(token)] = self.clock() + self.seconds
            self._until.move_to_end(_digest(token))
            while len(self._until) > MAX_TRUSTED:
                self._until.popitem(last=False)

    def discard(self, token: str) -> None:
        with self._lock:
            self._until.pop(_digest(token), None)

    def holds(self, digest: str) -> bool:
        with self._lock:
            until = self._until.get(digest)
            return until is not None and until > self.clock()


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return "a:" + (client[0] if client else "unknown")


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip() or None
    return None


def _once(source: Engine | Callable[[], Engine]) -> Engine | Callable[[], Engine]:
    """``source`` itself if it is an engine, else a function that opens it once (both limiters share it)."""
    if not callable(source) or hasattr(source, "dialect"):
        return source
    opened: list[Engine] = []
    lock = threading.Lock()

    def engine() -> Engine:
        with lock:
            if not opened:
                opened.append(source())
            return opened[0]

    return engine


class Bucket(Protocol):
    """A rate limit: :class:`RateLimiter` (this process) or ``SharedBuckets`` (the database)."""

    burst: float

    def take(self, key: str, cost: float = 1.0) -> float: ...


class Limits:
    """The service's rate limiters and the tokens trusted with a bucket of their own.

    With ``shared`` (an engine on the registry database, or a function that opens one; see
    :mod:`stylegate.registry.rate_buckets`) the buckets live in the database, so every worker
    process of ``stylegate serve --workers N`` spends from the same ones. Which tokens are
    trusted stays per process: a token that authenticated through one worker is charged to
    its address by another until it authenticates there too (never more than its limit).
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic,
                 shared: Engine | Callable[[], Engine] | None = None) -> None:
        self.general: Bucket
        self.accounts: Bucket
        if shared is None:
            self.general = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst, clock)
            self.accounts = RateLimiter(settings.account_rate_limit_per_minute, settings.account_rate_limit_burst, clock)
        else:
            from stylegate.registry.rate_buckets import SharedBuckets

            shared = _once(shared)
            self.general = SharedBuckets(shared, "general", settings.rate_limit_per_minute, settings.rate_limit_burst)
            self.accounts = SharedBuckets(shared, "accounts", settings.account_rate_limit_per_minute,
                                          settings.account_rate_limit_burst)
        self.shared = shared is not None
        self.trusted = TrustedTokens(clock=clock)

    def trust(self, token: str) -> None:
        """Called once ``token`` authenticated: it gets its own bucket."""
        self.trusted.add(token)

    def distrust(self, token: str) -> None:
        """Called when ``token`` failed to authenticate: back to the address's bucket."""
        self.trusted.discard(token)

    def client_key(self, scope: Scope) -> str:
        """The bucket a request counts against: a trusted token's own, else the address's."""
        token = _bearer(scope)
        if token is not None and self.trusted.holds(_digest(token)):
            return "t:" + _digest(token)
        return _address(scope)

    def charge(self, scope: Scope) -> float:
        """Spend what the request costs; 0.0 if allowed, else the seconds to wait."""
        method, path = scope.get("method", ""), scope.get("path", "")
        if not is_limited(method, path):
            return 0.0
        if is_account_route(method, path):
            wait = self.accounts.take(_address(scope))
            if wait > 0:
                return wait
        return self.general.take(self.client_key(scope))

    @property
    def max_items(self) -> int:
        """The most items one bulk request may hold: what a client's bucket holds at most."""
        return int(self.general.burst)

    def charge_items(self, scope: Scope, items: int) -> float:
        """Spend the rest of what a bulk request of ``items`` costs (the middleware took one):
        0.0 if allowed, else the seconds to wait, ``math.inf`` if it can never be allowed."""
        if items > self.max_items:
            return math.inf
        if items <= 1:
            return 0.0
        return self.general.take(self.client_key(scope), float(items - 1))


def is_account_route(method: str, path: str) -> bool:
    """Routes that create accounts, sessions or mail: the tighter per-address limit applies."""
    return (method, path.rstrip("/") or "/") in ACCOUNT_ROUTES or (method == "POST" and bool(_RESEND.match(path)))


def is_limited(method: str, path: str) -> bool:
    """Every API route, every portal POST and the confirmation link."""
    return path.startswith("/v1/") or method == "POST" or path.rstrip("/") == "/confirm"


class RateLimitMiddleware:
    """429 with ``Retry-After`` once the request's bucket is empty."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                if self.limits.shared:  # a database statement: keep the event loop free meanwhile
                    from starlette.concurrency import run_in_threadpool

                    wait = await run_in_threadpool(self.limits.charge, scope)
                else:
                    wait = self.limits.charge(scope)
            except StylegateError as exc:  # the shared buckets' database: fail closed, say why
                log.error("rate limit unavailable on %s: %s", scope.get("path", ""), exc)
                await _json_error(send, 503, "the rate limit is unavailable: try again later", {"Retry-After": "1"})
                return
            if wait > 0:
                seconds = str(math.ceil(wait))
                await _json_error(send, 429, f"rate limit exceeded: try again in {seconds} s", {"Retry-After": seconds})
                return
        await self.app(scope, receive, send)


def wants_ndjson(accept: str | bytes | None) -> bool:
    """Whether an ``Accept`` header asks for JSON lines (the bulk form of the bulk routes)."""
    if accept is None:
        return False
    text = accept.decode("latin-1") if isinstance(accept, bytes) else accept
    return any(part.split(";")[0].strip().lower() == NDJSON for part in text.split(","))


def is_bulk(method: str, path: str, accept: str | bytes | None) -> bool:
    """A bulk request: a bulk prompt check, or a name lookup that asks for JSON lines (a name
    lookup answered as one JSON object keeps its 100 names and the small cap)."""
    if (method, path) == ("POST", "/v1/check/prompts"):
        return True
    return (method, path) in BULK_ROUTES and wants_ndjson(accept)


def bulk_body_limit(settings: Settings) -> int:
    """The body cap of a bulk request: ``BULK_BODY_FACTOR`` x the JSON cap."""
    return BULK_BODY_FACTOR * settings.max_request_bytes


def body_limit(settings: Settings, method: str, path: str, accept: str | bytes | None = None) -> int:
    """The largest body a route needs: one image for an image check, the upload cap for
    uploads, the bulk cap for bulk requests (:func:`is_bulk`), and the small JSON/form cap for
    everything else (whatever its content type)."""
    if is_bulk(method, path, accept):
        return bulk_body_limit(settings)
    if method == "POST" and path == "/v1/check/image":
        return settings.max_check_image_bytes
    if method == "POST" and (path.rstrip("/") == "/upload" or _UPLOADS.match(path)):
        return settings.max_upload_bytes
    return settings.max_request_bytes


class _TooLarge(HTTPException):
    """Raised from ``receive`` mid-body; FastAPI passes HTTPExceptions through untouched."""


class BodySizeMiddleware:
    """413 when a body is larger than its route's limit (:func:`body_limit`). Checks
    Content-Length first, without reading anything, then counts streamed bytes."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        limit = body_limit(self.settings, scope.get("method", ""), scope.get("path", ""), headers.get(b"accept"))
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await _json_error(send, 400, "invalid Content-Length")
                return
            if too_big:
                await _json_error(send, 413, f"request body over {limit} bytes")
                return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        started = False

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(413, f"request body over {limit} bytes")
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge:
            if not started:
                await _json_error(send, 413, f"request body over {limit} bytes")
