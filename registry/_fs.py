"""Small filesystem helpers: durable atomic writes and reversible file replacement."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so a rename inside it survives a crash (no-op where unsupported)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(os.fspath(path), flags)
    except OSError:  # Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", *, overwrite: bool = True) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path`` for writing; on success fsync it and ``os.replace`` it
    over ``path``, on failure remove it. Readers see the old file or the new one, never a
    partial write. With ``overwrite=False`` an existing ``path`` is never replaced: the new
    file is hard-linked into place and :class:`FileExistsError` is raised if one is there."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # atomic create-if-absent
            os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | memoryview, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path, overwrite=overwrite) as fh:
        fh.write(data)


class FileBackup:
    """Keep the current bytes of some files so a later replacement can be undone exactly.

    A hard link to the old inode is enough (``os.replace`` does not touch it); where links are
    not possible the file is copied. ``restore()`` puts every file back as it was (or removes
    it if it did not exist); ``discard()`` drops the backups once the change is final.
    """

    def __init__(self, paths: list[Path]) -> None:
        self._entries: list[tuple[Path, Path | None]] = []
        # One token for the group, so that after a crash the backups of files that belong
        # together (an index and its sidecar) can be found as a pair: ``.NAME.TOKEN.bak``.
        self.token = secrets.token_hex(6)
        try:
            for path in paths:
                self._entries.append((path, self._backup_one(path, self.token)))
        except BaseException:
            self.discard()
            raise

    @staticmethod
    def _backup_one(path: Path, token: str) -> Path | None:
        if not path.exists():
            return None
        tmp = path.with_name(f".{path.name}.{token}.bak")
        try:
            os.link(path, tmp)
        except OSError:
            shutil.copy2(path, tmp)
        return Path(tmp)

    def restore(self) -> None:
        """Put the backed-up files back (best effort on every file; errors are logged)."""
        for path, backup in self._entries:
            try:
                if backup is None:
                    if path.exists():
                        path.unlink()
                elif path.exists() and os.path.samefile(backup, path):
                    backup.unlink()  # never replaced; rename() between links to one file is a no-op
                else:
                    os.replace(backup, path)
            except OSError:
                log.exception("could not restore %s", path)
        if self._entries:
            fsync_dir(self._entries[0][0].parent)
        self._entries = []

    def discard(self) -> None:
        """Forget the backups (the new files stay)."""
        for _path, backup in self._entries:
            if backup is not None:
                try:
                    backup.unlink()
                except FileNotFoundError:
                    pass
                except OSError:
                    log.warning("could not remove backup %s", backup)
        self._entries = []
