"""What each save of the style index changed, so a running process catches up without reloading.

A writer that adds or withdraws works saves the whole index file (``StyleIndex.save``); every
other process would then read the whole file again (at 100,000 works, tens of milliseconds
plus the checks). Before saving, the writer also writes a small delta next to it,
``<index>.delta.<to snapshot>.npz``: the snapshot it started from, the ids it removed, the
ids and vectors it added, and the count and sha256 of the sorted ids it ended with.

A reader whose loaded index is at snapshot ``S0`` while the sidecar says ``Sn`` follows the
deltas back from ``Sn`` to ``S0`` and applies them in order (remove, then add, as the writer
did): the same operations on the same index give the same content. The count and the ids
digest are checked after each step; anything missing or different answers False and the
caller loads the file instead. A rebuild writes no delta (and clears the old ones), so a
reader always reloads after one. Only the newest ``KEEP`` deltas are kept.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

import numpy as np

from ._fs import atomic_write_bytes
from .style_index import StyleIndex

log = logging.getLogger(__name__)

KEEP = 64  # deltas kept on disk: a reader further behind than this reloads the file
MAX_CHAIN = 16  # deltas a reader applies at once before loading the file is cheaper


def delta_files(index_path: str | os.PathLike[str]) -> list[Path]:
    """The deltas kept next to the index at ``index_path``, oldest first."""
    path = Path(index_path)
    return sorted(path.parent.glob(f"{path.name}.delta.*.npz"), key=lambda p: p.stat().st_mtime_ns)


def ids_digest(index: StyleIndex) -> str:
    """The sha256 of the index's sorted work ids (int64): equal for equal id sets."""
    return hashlib.sha256(np.sort(index.ids()).astype(np.int64).tobytes()).hexdigest()


def delta_path(index_path: str | os.PathLike[str], snapshot: str) -> Path:
    """Where the delta that ends at ``snapshot`` is kept (in the index's folder, so the
    writer's file backup undoes it with the index when the change fails)."""
    if not snapshot or not all(c in "0123456789abcdef" for c in snapshot):
        raise ValueError(f"not a snapshot hash: {snapshot!r}")
    return Path(f"{index_path}.delta.{snapshot}.npz")


def write_delta(index_path: str | os.PathLike[str], index: StyleIndex, from_snapshot: str | None,
                to_snapshot: str, removed: np.ndarray, added_ids: np.ndarray, added_vectors: np.ndarray) -> None:
    """Record that ``index`` (already changed) went from ``from_snapshot`` to ``to_snapshot``.

    Written before the index file itself, so a reader that sees the new sidecar finds it.
    A writer without a known starting snapshot writes nothing (readers reload).
    """
    if from_snapshot is None:
        return
    buf = io.BytesIO()
    np.savez(buf, from_snapshot=np.array(from_snapshot), removed=np.asarray(removed, np.int64),
             added_ids=np.asarray(added_ids, np.int64),
             added_vectors=np.asarray(added_vectors, np.float32).reshape(len(added_ids), index.dim),
             count=np.array(len(index)), ids_sha256=np.array(ids_digest(index)))
    atomic_write_bytes(delta_path(index_path, to_snapshot), buf.getvalue())
    for old in delta_files(index_path)[:-KEEP]:
        old.unlink(missing_ok=True)


def clear_deltas(index_path: str | os.PathLike[str]) -> None:
    """Forget every delta (after a rebuild: its content does not follow from them)."""
    for old in delta_files(index_path):
        old.unlink(missing_ok=True)


def catch_up(index: StyleIndex, index_path: str | os.PathLike[str], target: str) -> bool:
    """Bring ``index`` (loaded at its ``snapshot_hash``) to snapshot ``target`` by the deltas.

    True when it now equals the saved index at ``target``; False when the deltas cannot
    answer (then ``index`` may be half changed: the caller must load the file again).
    """
    start = index.snapshot_hash
    if start is None:
        return False
    if start == target:
        return True
    chain: list[tuple[str, dict[str, np.ndarray]]] = []
    at = target
    while at != start:
        if len(chain) >= MAX_CHAIN:
            return False
        try:
            with np.load(delta_path(index_path, at), allow_pickle=False) as data:
                step = {k: data[k] for k in data.files}
        except (OSError, ValueError, KeyError) as exc:
            log.debug("no usable index delta for snapshot %s (%s)", at[:12], exc)
            return False
        chain.append((at, step))
        at = str(step["from_snapshot"])
    for to, step in reversed(chain):
        if step["removed"].size:
            index.remove(step["removed"])
        if step["added_ids"].size:
            index.add(step["added_ids"], step["added_vectors"])
        if len(index) != int(step["count"]) or ids_digest(index) != str(step["ids_sha256"]):
            log.warning("the style index delta to snapshot %s does not match; loading the file", to[:12])
            return False
        index.snapshot_hash = to
    return True
