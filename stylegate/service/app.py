"""The FastAPI application: routers, limits, error mapping, templates.

``create_app(settings)`` builds one app over one workspace (registry, style index, audit
log); ``stylegate serve`` runs it with uvicorn. OpenAPI is at ``/docs`` and ``/openapi.json``.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from stylegate.errors import StylegateError
from stylegate.settings import Settings

from .context import ServiceContext
from .limits import BodySizeMiddleware, RateLimitMiddleware

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).with_name("templates")


def _status_for(exc: StylegateError) -> int:
    return exc.http_status  # see stylegate.errors: 404, 409, 422, else 503 (the operator must act)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (asked of the router, method by method)."""
    from starlette.routing import Match

    routes = request.app.router.routes
    return [m for m in _METHODS
            if any(route.matches({**request.scope, "method": m})[0] is Match.FULL for route in routes)]


class WorkerHeaderMiddleware:
    """Names the worker process that answered (``X-Stylegate-Worker: <pid>``), so an operator
    (and the tests of ``serve --workers N``) can tell the workers' answers apart."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.header = (b"x-stylegate-worker", str(os.getpid()).encode())

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, named)


def create_worker_app() -> FastAPI:
    """The app factory ``stylegate serve --workers N`` gives uvicorn: each worker process
    builds its own app from the environment (``STYLEGATE_*``, set by the command)."""
    return create_app(Settings())


def create_app(settings: Settings | None = None, *, prepare: bool = True) -> FastAPI:
    """The service over ``settings.home``; ``prepare`` opens the registry and gate at start-up."""
    from . import __version__
    from .routers import admin, artists, checks, pages, works

    ctx = ServiceContext(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if prepare:
            ctx.prepare()
        yield

    app = FastAPI(
        title="stylegate",
        version=__version__,
        summary="Artist consent and style governance for text-to-image generation",
        description="Artists register opt-outs and consent; generators ask the registry before "
                    "they generate. Every check and every registry change is audited.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    from fastapi.templating import Jinja2Templates

    app.state.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

    @app.exception_handler(StylegateError)
    async def stylegate_error(request: Request, exc: StylegateError) -> JSONResponse:
        status = _status_for(exc)
        if status >= 500:
            log.error("service error on %s: %s", request.url.path, exc)
        # the operator's log has the full message; a client is not told where the home is
        return JSONResponse({"detail": ctx.public_message(exc)}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette names only the methods of the first route whose path matched; a 405 must
            # list every method the resource supports (GET, PATCH and DELETE on one artist)
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    for module in (artists, works, checks, admin, pages):
        app.include_router(module.router)
    # the last added runs first: a request is charged to its bucket before its size is judged,
    # so a flood of oversized bodies is rate-limited like any other
    app.add_middleware(BodySizeMiddleware, settings=ctx.settings)
    app.add_middleware(RateLimitMiddleware, limits=ctx.limits)
    app.add_middleware(WorkerHeaderMiddleware)  # outermost: a 429 or 413 names its worker too
    return app
