"""Where the screen's derived data files live, and how they are written.

The name screen derives sorted lookup files from maintained datasets (names-dataset,
GeoNames, wordfreq, hunspell dictionaries) once, into the user cache, and memory-maps them
afterwards. Each file may be redirected by an environment variable (tests, read-only homes).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_file(name: str, env: str | None = None) -> Path:
    """``$env`` when set, else ``name`` in stylegate's user cache directory."""
    override = os.environ.get(env) if env else None
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("stylegate", appauthor=False)) / name


def package_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def write_atomically(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` through a temporary file renamed into place, so a reader
    never sees half a file (two processes building the same cache race harmlessly)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, out)
