"""Content-addressed storage of reference works: ``works_dir/<sha[:2]>/<sha>.<ext>``."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from stylegate.errors import StylegateError

from ._fs import atomic_write_bytes, fsync_dir

log = logging.getLogger(__name__)

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")


def work_relpath(sha256: str, ext: str) -> str:
    """Relative path of a work inside the works directory (always ``/``-separated)."""
    if not _SHA_RE.match(sha256):
        raise ValueError(f"not a lowercase hex sha256: {sha256!r}")
    if not _EXT_RE.match(ext):
        raise ValueError(f"bad file extension: {ext!r}")
    return f"{sha256[:2]}/{sha256}.{ext}"


def resolve_work_path(works_dir: str | os.PathLike[str], relpath: str) -> Path:
    """Absolute path of a stored work; refuses paths that would leave ``works_dir``."""
    base = Path(works_dir)
    parts = relpath.split("/")
    if len(parts) != 2 or any(p in ("", ".", "..") for p in parts) or "\\" in relpath:
        raise StylegateError(f"invalid stored work path {relpath!r}")
    return base / parts[0] / parts[1]


@dataclass
class StagedFiles:
    """Files and folders newly created in the works dir by one operation, for undo."""

    files: list[Path] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    def undo(self) -> None:
        """Remove exactly what was created (files first, then the folders if empty)."""
        for path in reversed(self.files):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                log.exception("could not remove %s while rolling back", path)
        for folder in reversed(self.dirs):
            try:
                folder.rmdir()
            except OSError:
                log.warning("could not remove folder %s while rolling back", folder)
        self.files.clear()
        self.dirs.clear()


def store_work_bytes(
    works_dir: str | os.PathLike[str],
    sha256: str,
    ext: str,
    data: bytes,
    staged: StagedFiles | None = None,
) -> str:
    """Store ``data`` under its content address; return the relative path.

    The bytes must hash to ``sha256``. An existing file with the right content is kept as is;
    one with other content (a damaged store) is replaced atomically. Newly created files and
    folders are recorded in ``staged`` so that a failed operation can remove them.
    """
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StylegateError(f"content does not match sha256 {sha256}")
    rel = work_relpath(sha256, ext)
    base = Path(works_dir)
    target = resolve_work_path(base, rel)
    missing: list[Path] = []
    folder = target.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        if staged is not None:
            staged.dirs.append(folder)
    if target.exists():
        if file_sha256(target) == sha256:
            return rel
        log.warning("stored work %s was damaged; rewriting it", target)
        atomic_write_bytes(target, data)
        return rel
    atomic_write_bytes(target, data)
    if staged is not None:
        staged.files.append(target)
    return rel


def read_work_bytes(works_dir: str | os.PathLike[str], relpath: str, sha256: str) -> bytes:
    """Read a stored work and check it still hashes to ``sha256``."""
    path = resolve_work_path(works_dir, relpath)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StylegateError(f"stored work {path} cannot be read: {exc.strerror or exc}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StylegateError(f"stored work {path} is damaged (sha256 differs from the registry)")
    return data


def delete_work_file(works_dir: str | os.PathLike[str], relpath: str) -> bool:
    """Delete a stored work (and its folder when empty); True if a file was removed."""
    path = resolve_work_path(works_dir, relpath)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    try:
        path.parent.rmdir()
    except OSError:
        pass  # not empty
    fsync_dir(path.parent if path.parent.exists() else Path(works_dir))
    return True


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
