"""`stylegate serve`: the artist portal and the public API."""

from __future__ import annotations

import os
from typing import Optional

import typer

from stylegate.errors import InputError
from stylegate.output import message

from ._common import cli_state, handled, open_workspace

MAX_WORKERS = 64


@handled
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default STYLEGATE_HOST, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port (default STYLEGATE_PORT, 8000)."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=MAX_WORKERS,
        help="Worker processes over this home and its database (rate limits then live in the database)."),
) -> None:
    """Run the artist portal and the public API (FastAPI, uvicorn); OpenAPI at /docs."""
    import uvicorn

    ws = open_workspace()
    settings = ws.settings
    if workers > 1 and settings.rate_limit_store == "memory":
        raise InputError(
            f"--workers {workers} with STYLEGATE_RATE_LIMIT_STORE=memory would give each worker its own "
            "rate limits (a client could send the limit once per worker): use database or auto"
        )
    ws.require_home()  # refuse a missing or damaged home before binding the port
    host, port = host or settings.host, port or settings.port
    if workers == 1:
        from stylegate.service.app import create_app

        app = create_app(settings)
        message(f"stylegate portal and API on http://{host}:{port} (home {settings.home})")
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    # Each worker is a fresh process (uvicorn spawns them) that reads its settings from the
    # environment: hand it the home and device this command chose, and shared rate limits.
    state = cli_state()
    os.environ["STYLEGATE_HOME"] = str(settings.home)
    if state.device is not None:
        os.environ["STYLEGATE_DEVICE"] = state.device
    os.environ["STYLEGATE_RATE_LIMIT_STORE"] = "database"
    ws.gate()  # fail before binding on an index that disagrees with the registry; warms the model caches
    ws.store.close()
    message(f"stylegate portal and API on http://{host}:{port} with {workers} workers (home {settings.home})")
    uvicorn.run("stylegate.service.app:create_worker_app", factory=True, host=host, port=port,
                workers=workers, log_level="info")
