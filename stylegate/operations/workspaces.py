"""Opening a home from Python: the API's way in, failing closed like every command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from stylegate.settings import Settings
from stylegate.workspace import Workspace


def open_workspace(home: str | os.PathLike[str] | None = None, *, create: bool = False, **settings: Any) -> Workspace:
    """The workspace of an initialised home.

    ``home`` defaults to ``$STYLEGATE_HOME`` or the user data dir; other keyword arguments are
    :class:`~stylegate.settings.Settings` fields (``device="cpu"``, ``policy_path=…``).
    A missing or uninitialised home is refused (:class:`~stylegate.errors.HomeError`), as
    every command but ``init`` refuses it; ``create=True`` initialises it, as ``stylegate init``.
    """
    if home is not None:
        settings["home"] = Path(home).expanduser()
    ws = Workspace(Settings(**settings), create=create)
    if create:
        from stylegate.operations.ingest import init_home

        init_home(ws)
    else:
        ws.require_home()
    return ws
