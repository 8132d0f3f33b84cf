"""`stylegate serve`: the artist portal and the public API."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

import typer

from stylegate.errors import InputError
from stylegate.output import message

from ._common import cli_state, handled, open_workspace

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.settings import Settings

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
    _preflight(settings)
    message(f"stylegate portal and API on http://{host}:{port} with {workers} workers (home {settings.home})")
    uvicorn.run("stylegate.service.app:create_worker_app", factory=True, host=host, port=port,
                workers=workers, log_level="info")


def _open_gate(settings: Settings) -> None:
    from stylegate.workspace import Workspace

    ws = Workspace(settings)
    ws.gate()
    ws.store.close()


def _preflight(settings: Settings) -> None:
    """Open the gate once before the port is bound: a home whose index disagrees with its
    registry fails here, with its own message and exit code, and the workers find the model
    caches (ONNX towers, anchors) written. It runs in a child process that exits afterwards,
    so the supervisor does not keep a model in memory for the life of the service."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_open_gate, settings).result()
