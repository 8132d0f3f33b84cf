"""The home's import lock: one change to works and the style index at a time, across processes.

An import (``works add``, an upload, a withdrawal, a removal, ``index rebuild``) embeds its
files before it writes anything, so two at once would each hold an index that the other has
made stale. They queue on an advisory ``flock`` of ``<home>/locks/import.lock`` instead; the
one that waits says so. The holder writes who it is into the lock file and empties it when it
is done, so a lock file that is not empty when the lock is free was left by a crashed holder:
the next opener knows to recover (see :mod:`stylegate.recovery`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path

from stylegate.errors import ImportBusy

log = logging.getLogger(__name__)

POLL_S = 0.1


def lock_path(home: Path) -> Path:
    return home / "locks" / "import.lock"


def _holder(fd: int) -> dict:
    try:
        raw = os.pread(fd, 4096, 0)
        return json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (OSError, ValueError):
        return {"unreadable": True}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    return f"pid {holder.get('pid', '?')} ({holder.get('what', 'an import')}, since {holder.get('since', '?')})"


@contextmanager
def import_lock(home: Path, what: str, timeout_s: float) -> Iterator[dict]:
    """Hold the import lock for the block; yields what a crashed earlier holder left ({} if none).

    Waits up to ``timeout_s`` for another holder, then raises :class:`ImportBusy`.
    """
    path = lock_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        warned = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    raise ImportBusy(
                        f"another import is running: {_describe(holder)}; it still held the lock after "
                        f"{timeout_s:g} s: try again when it has finished"
                    ) from None
                if not warned:
                    log.warning("another import is running: %s; waiting up to %g s", _describe(holder), timeout_s)
                    warned = True
                time.sleep(POLL_S)
        left_behind = _holder(fd)
        me = {"pid": os.getpid(), "what": what, "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode("utf-8"), 0)
        os.fsync(fd)
        try:
            yield left_behind
        finally:
            os.ftruncate(fd, 0)
            os.fsync(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def try_import_lock(home: Path, what: str) -> Iterator[dict | None]:
    """The import lock if it is free right now: yields the crashed holder's record ({} if none),
    or None when another process holds the lock (then nothing may be swept)."""
    if not lock_path(home).parent.exists():
        yield {}
        return
    with ExitStack() as stack:
        try:
            left_behind: dict | None = stack.enter_context(import_lock(home, what, timeout_s=0.0))
        except ImportBusy:
            left_behind = None
        yield left_behind


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
