"""`stylegate serve`: the artist portal and the public API."""

from __future__ import annotations

from typing import Optional

import typer

from stylegate.output import message

from ._common import handled, open_workspace


@handled
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default STYLEGATE_HOST, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port (default STYLEGATE_PORT, 8000)."),
) -> None:
    """Run the artist portal and the public API (FastAPI, uvicorn); OpenAPI at /docs."""
    import uvicorn

    from stylegate.service.app import create_app

    ws = open_workspace()
    ws.require_home()  # refuse a missing or damaged home before binding the port
    settings = ws.settings
    app = create_app(settings)
    message(f"stylegate portal and API on http://{host or settings.host}:{port or settings.port} (home {settings.home})")
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info")
