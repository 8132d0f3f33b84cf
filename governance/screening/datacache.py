"""Where the screen's derived data files live, and how they are written.

The name screen derives sorted lookup files from maintained datasets (names-dataset,
GeoNames, wordfreq, hunspell dictionaries) once, into the user cache, and memory-maps them
afterwards. Each file may be redirected by an environment variable (tests, read-only homes).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)


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


def ensure_extracted(
    path: Path, child: Sequence[str], extract_here: Callable[[], object], what: str,
    errors: tuple[type[BaseException], ...] = (), ready: Callable[[], bool] | None = None,
) -> bool:
    """Whether the extract at ``path`` is there, writing it first when it is not.

    It is written by a child process (``python -m *child``), so the memory a dataset takes
    while read goes away with it, and by ``extract_here()`` in this process if the child
    fails. An error of ``errors`` there is logged and gives False (the caller goes without);
    other errors propagate. ``ready`` says whether the extract is complete (default: the
    file exists).
    """
    done = ready or path.exists
    if done():
        return True
    log.info("reading %s once into %s (several seconds)", what, path)
    run = subprocess.run([sys.executable, "-m", *child], capture_output=True, text=True, check=False)
    if run.returncode == 0 and done():
        return True
    log.warning("could not extract %s in a child process (%s); reading them in this one", what, run.stderr[-300:])
    try:
        extract_here()
    except errors as exc:
        log.warning("%s could not be read (%s): not used", what, exc)
        return False
    return True
