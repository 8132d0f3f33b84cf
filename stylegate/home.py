"""The home folder: what makes it initialised, and the checks that keep the gate closed.

Only ``stylegate init`` creates a home. Every other command opens an existing one and is
refused (exit 1, naming the path and the fix) when the home is missing, is not a stylegate
home, or has lost its registry database or audit log while other parts of it remain: a
recreated, empty registry would let every opted-out artist pass.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from stylegate.errors import HomeError, InputError
from stylegate.settings import Settings

MARKER = "stylegate-home.json"
HOME_FORMAT = 1


@dataclass(frozen=True)
class HomeState:
    """What is on disk in a home (read without changing anything)."""

    home: Path
    marker: bool
    database: Path | None  # the SQLite registry file, None for an external database URL
    database_exists: bool
    audit: Path | None  # the audit log's SQLite file, None when it lives in PostgreSQL
    audit_exists: bool
    index_exists: bool
    work_files: int

    @property
    def has_data(self) -> bool:
        return self.audit_exists or self.index_exists or self.work_files > 0


def sqlite_database_path(settings: Settings) -> Path | None:
    """The registry's SQLite file when the database is the home's default, else None."""
    if settings.database_url is not None:
        from sqlalchemy.engine import make_url

        try:
            url = make_url(settings.database_url)
        except Exception:  # noqa: BLE001 - reported when the store opens it
            return None
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).expanduser()
    return settings.home / "registry.db"


def _count_work_files(works_dir: Path, stop_after: int = 1_000) -> int:
    count = 0
    if not works_dir.is_dir():
        return 0
    for _root, _dirs, files in os.walk(works_dir):
        count += sum(1 for f in files if not f.startswith("."))
        if count >= stop_after:
            break
    return count


def _audit_exists(settings: Settings) -> bool:
    """The SQLite audit file exists; a PostgreSQL log is checked when it opens (``create=False``)."""
    path = settings.audit_sqlite_path
    return path.is_file() if path is not None else True


def inspect_home(settings: Settings) -> HomeState:
    home = settings.home
    db = sqlite_database_path(settings)
    return HomeState(
        home=home,
        marker=(home / MARKER).is_file(),
        database=db,
        database_exists=db.is_file() if db is not None else True,
        audit=settings.audit_sqlite_path,
        audit_exists=_audit_exists(settings),
        index_exists=settings.index_path.is_file(),
        work_files=_count_work_files(settings.works_dir),
    )


def _refuse_file_as_home(home: Path) -> None:
    if home.exists() and not home.is_dir():
        raise InputError(f"{home} is a file, not a folder: give --home (or STYLEGATE_HOME) a folder")


def require_home(settings: Settings) -> HomeState:
    """Raise :class:`HomeError` unless ``settings.home`` is an intact, initialised home."""
    home = settings.home
    _refuse_file_as_home(home)
    init_hint = f"run `stylegate --home {home} init` to create one, or point --home / STYLEGATE_HOME at an existing home"
    if not home.exists():
        raise HomeError(f"no stylegate home at {home}; {init_hint}")
    state = inspect_home(settings)
    if not state.marker:
        raise HomeError(f"{home} is not an initialised stylegate home (no {MARKER}); {init_hint}")
    _require_databases(state)
    return state


def _require_databases(state: HomeState) -> None:
    if not state.database_exists:
        raise HomeError(
            f"the registry database {state.database} is missing from the home {state.home}"
            + _what_remains(state)
            + "; stylegate never recreates it, since an empty registry would let every opted-out artist "
            "pass: restore the file from a backup (it is the source of truth for the style index)"
        )
    if not state.audit_exists:
        raise HomeError(
            f"the audit log {state.audit} is missing from the home {state.home}"
            + _what_remains(state)
            + "; stylegate never recreates it, since its acknowledged entries would be lost: restore it from a backup"
        )


def _what_remains(state: HomeState) -> str:
    parts = []
    if state.work_files:
        parts.append(f"{state.work_files}{'+' if state.work_files >= 1000 else ''} work files")
    if state.index_exists:
        parts.append("a style index")
    if state.audit_exists:
        parts.append("an audit log")
    if state.database_exists and state.database is not None:
        parts.append("a registry database")
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f" while {listed} remain"


def check_init_allowed(settings: Settings) -> None:
    """``init`` on a home whose databases were lost is refused too: it would recreate them empty.

    A new or empty folder is initialised; an intact home (or one from before the marker file)
    is left as it is, and gets its marker.
    """
    _refuse_file_as_home(settings.home)
    if not settings.home.exists():
        return
    state = inspect_home(settings)
    if state.marker or state.has_data:
        _require_databases(state)


def write_marker(settings: Settings) -> None:
    path = settings.home / MARKER
    if path.exists():
        return
    from stylegate.registry._fs import atomic_write_bytes

    body = {"format": HOME_FORMAT, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    atomic_write_bytes(path, (json.dumps(body, indent=2) + "\n").encode("utf-8"))
