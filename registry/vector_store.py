"""The work vectors beside a large style index: float32 rows in a memory-mapped file.

An IVF-PQ index holds only compressed codes; the exact re-rank of its candidates and every
exact per-artist style score read the original vectors from here, so RAM holds the codes and
an id → row map while the vectors stay on disk (the page cache keeps the hot rows).

On disk, beside the index file ``X``:

* ``X.vectors``: one header row (:data:`MAGIC` and a random 16-byte token naming this file's
  row layout, zero-padded to a row), then raw little-endian float32 rows of ``dim`` values.
  The sidecar records the token, so an old row map never reads a compacted file's rows.
  Rows are only ever appended; a saved row is never rewritten in place, so a process that memory-mapped
  the file earlier keeps reading the rows it knows.
* ``X.vectors.rows.npy``: the row map, one int64 per row: the work id stored there, or -1 for
  a row that is dead (withdrawn work) or was never committed (a save that did not finish).
  It is written atomically and is the commit point of a save; the index sidecar records its
  sha256.

Withdrawal only marks rows dead. A save whose file would be more than :data:`COMPACT_AT`
dead rows writes a compacted file (temp file, fsync, ``os.replace``) instead of appending.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from stylegate.errors import IndexMismatch

from ._fs import atomic_file, atomic_write_bytes

log = logging.getLogger(__name__)

COMPACT_AT = 0.25  # dead share of the file's rows above which a save compacts
COMPACT_MIN_ROWS = 1024  # below this many dead rows a save never bothers to compact
COPY_CHUNK_ROWS = 65_536  # rows copied at a time while compacting
MAGIC = b"SGVEC1\x00\x00"


def _header(dim: int, token: bytes) -> bytes:
    return (MAGIC + token).ljust(dim * 4, b"\x00")


def _write_rows(fh: IO[bytes], rows: np.ndarray) -> None:
    """Write float32 rows in chunks (no full bytes copy of a large array)."""
    for start in range(0, rows.shape[0], COPY_CHUNK_ROWS):
        block = np.ascontiguousarray(rows[start:start + COPY_CHUNK_ROWS], dtype="<f4")
        fh.write(block.data.cast("B"))


def read_token(data: Path, dim: int) -> str | None:
    """The layout token in a vectors file's header, or None if it has none."""
    try:
        with open(data, "rb") as fh:
            head = fh.read(len(MAGIC) + 16)
    except OSError:
        return None
    if len(head) < len(MAGIC) + 16 or not head.startswith(MAGIC):
        return None
    return head[len(MAGIC):].hex()


def vectors_path(index_path: str | os.PathLike[str]) -> Path:
    p = Path(index_path)
    return p.with_name(p.name + ".vectors")


def rowmap_path(index_path: str | os.PathLike[str]) -> Path:
    p = Path(index_path)
    return p.with_name(p.name + ".vectors.rows.npy")


@dataclass(frozen=True)
class StoreState:
    """A cheap copy of a store's bookkeeping, to undo a failed change (the rows on disk are immutable)."""

    base: np.ndarray
    base_file: tuple[str, int] | None
    token: str | None
    row_ids: np.ndarray
    pending_ids: np.ndarray
    pending: np.ndarray


class VectorStore:
    """Work vectors keyed by work id: memory-mapped saved rows plus rows added since the last save."""

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        self._base: np.ndarray = np.zeros((0, self.dim), np.float32)  # np.memmap once saved or opened
        self._base_file: tuple[str, int] | None = None  # (path, inode) the memmap reads
        self.token: str | None = None  # the layout token of that file
        self._row_ids = np.zeros(0, np.int64)  # one per base row; -1 dead
        self._pending_ids = np.zeros(0, np.int64)
        self._pending = np.zeros((0, self.dim), np.float32)
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # (sorted live ids, their rows)

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, index_path: str | os.PathLike[str], dim: int, rowmap_sha256: str | None,
             token: str | None) -> VectorStore:
        """The store saved beside ``index_path``; IndexMismatch if it is missing or disagrees."""
        data, rows = vectors_path(index_path), rowmap_path(index_path)
        if token is None or read_token(data, dim) != token:
            raise IndexMismatch(f"style index vectors {data} are missing or not the file its sidecar names; "
                                "run `stylegate index rebuild`")
        try:
            raw = rows.read_bytes()
        except OSError as exc:
            raise IndexMismatch(f"style index vectors map {rows} cannot be read ({exc}); run `stylegate index rebuild`") from None
        if rowmap_sha256 is None or hashlib.sha256(raw).hexdigest() != rowmap_sha256:
            raise IndexMismatch(f"style index vectors map {rows} does not match the index sidecar; run `stylegate index rebuild`")
        row_ids = np.load(io.BytesIO(raw), allow_pickle=False).astype(np.int64, copy=False)
        store = cls(dim)
        store._row_ids = row_ids
        store._map_file(data, len(row_ids))
        return store

    def _map_file(self, data: Path, n_rows: int) -> None:
        try:
            st = data.stat()
        except OSError as exc:
            raise IndexMismatch(f"style index vectors {data} cannot be read ({exc}); run `stylegate index rebuild`") from None
        if st.st_size < (n_rows + 1) * self.dim * 4:
            raise IndexMismatch(
                f"style index vectors {data} hold {st.st_size // (self.dim * 4) - 1} rows but its map names {n_rows}; "
                "run `stylegate index rebuild`"
            )
        self._base = (np.memmap(data, dtype="<f4", mode="r", shape=(n_rows, self.dim), offset=self.dim * 4)
                      if n_rows else np.zeros((0, self.dim), np.float32))
        self._base_file = (str(data), st.st_ino)
        self.token = read_token(data, self.dim)
        self._lookup = None

    # -- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return int((self._row_ids >= 0).sum()) + len(self._pending_ids)

    def live_ids(self) -> np.ndarray:
        """Live work ids, in storage order."""
        return np.concatenate([self._row_ids[self._row_ids >= 0], self._pending_ids])

    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        if self._lookup is None:
            all_ids = np.concatenate([self._row_ids, self._pending_ids])
            rows = np.flatnonzero(all_ids >= 0)
            order = np.argsort(all_ids[rows], kind="stable")
            self._lookup = (all_ids[rows][order], rows[order])
        return self._lookup

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The storage rows of ``ids`` (KeyError naming the ids that are not stored)."""
        keys, rows = self._table()
        ids = np.asarray(ids, dtype=np.int64)
        at = np.searchsorted(keys, ids)
        at_c = np.minimum(at, max(len(keys) - 1, 0))
        ok = (at < len(keys)) & (keys[at_c] == ids) if len(keys) else np.zeros(ids.shape, bool)
        if not ok.all():
            raise KeyError(f"work ids not in the index: {ids[~ok][:10].tolist()}")
        return rows[at_c]

    def contains(self, ids: np.ndarray) -> np.ndarray:
        keys, _ = self._table()
        ids = np.asarray(ids, dtype=np.int64)
        if not len(keys):
            return np.zeros(ids.shape, bool)
        at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        return np.asarray(keys[at] == ids)

    def at_rows(self, rows: np.ndarray) -> np.ndarray:
        """Vectors (n, dim) of the given storage rows, in that order (reads only those rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((rows.size, self.dim), np.float32)
        nb = len(self._row_ids)
        saved = rows < nb
        if saved.any():
            picked = rows[saved]
            order = np.argsort(picked, kind="stable")  # ascending reads are kinder to the disk
            block = np.asarray(self._base[picked[order]])
            tmp = np.empty_like(block)
            tmp[order] = block
            out[saved] = tmp
        if (~saved).any():
            out[~saved] = self._pending[rows[~saved] - nb]
        return out

    def get(self, ids: np.ndarray) -> np.ndarray:
        """Vectors of the work ``ids`` (KeyError for unknown ids)."""
        return self.at_rows(self.rows(ids))

    def resident_bytes(self) -> int:
        """Bytes this store keeps in RAM (maps and unsaved rows; the mapped file is not counted)."""
        table = 0 if self._lookup is None else sum(a.nbytes for a in self._lookup)
        return int(self._row_ids.nbytes + self._pending_ids.nbytes + self._pending.nbytes + table)

    # -- changes ------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Append rows (the caller has checked ids are new and vectors valid)."""
        self._pending_ids = np.concatenate([self._pending_ids, np.asarray(ids, np.int64)])
        self._pending = np.concatenate([self._pending, np.asarray(vectors, np.float32)])
        self._lookup = None

    def remove(self, ids: np.ndarray) -> int:
        """Mark the rows of ``ids`` dead; return how many were stored."""
        ids = np.asarray(ids, np.int64)
        hit = np.isin(self._row_ids, ids) & (self._row_ids >= 0)
        keep = ~np.isin(self._pending_ids, ids)
        n = int(hit.sum()) + int((~keep).sum())
        if n:
            self._row_ids = np.where(hit, -1, self._row_ids)
            self._pending_ids, self._pending = self._pending_ids[keep], self._pending[keep]
            self._lookup = None
        return n

    def state(self) -> StoreState:
        return StoreState(self._base, self._base_file, self.token, self._row_ids.copy(), self._pending_ids.copy(), self._pending.copy())

    def restore(self, state: StoreState) -> None:
        self._base, self._base_file, self.token = state.base, state.base_file, state.token
        self._row_ids = state.row_ids.copy()
        self._pending_ids, self._pending = state.pending_ids.copy(), state.pending.copy()
        self._lookup = None

    # -- saving -------------------------------------------------------------------------

    def save(self, index_path: str | os.PathLike[str]) -> tuple[str, str]:
        """Write the rows beside ``index_path``; return the sha256 of the row map written and
        the file's layout token.

        Appends the unsaved rows to the file this store maps when it is still the file at that
        path; otherwise (another path, a replaced file, too many dead rows) writes a compacted
        file atomically. The row map is replaced last.
        """
        data, rows_file = vectors_path(index_path), rowmap_path(index_path)
        row_bytes = self.dim * 4
        same_file = False
        if self._base_file is not None and self._base_file[0] == str(data):
            try:
                same_file = data.stat().st_ino == self._base_file[1]
            except OSError:
                same_file = False
        dead = int((self._row_ids < 0).sum())
        compact = dead >= COMPACT_MIN_ROWS and dead > COMPACT_AT * (len(self._row_ids) + len(self._pending_ids))
        if same_file and not compact:
            with open(data, "r+b") as fh:
                end = fh.seek(0, os.SEEK_END)
                first = -(-end // row_bytes) - 1  # data rows, past any partial row a failed save left
                fh.seek((first + 1) * row_bytes)
                _write_rows(fh, self._pending)
                fh.flush()
                os.fsync(fh.fileno())
            gap = np.full(first - len(self._row_ids), -1, np.int64)
            row_ids = np.concatenate([self._row_ids, gap, self._pending_ids])
        else:
            live = np.flatnonzero(self._row_ids >= 0)
            with atomic_file(data) as fh:
                fh.write(_header(self.dim, secrets.token_bytes(16)))
                for start in range(0, live.size, COPY_CHUNK_ROWS):
                    _write_rows(fh, np.asarray(self._base[live[start:start + COPY_CHUNK_ROWS]]))
                _write_rows(fh, self._pending)
            row_ids = np.concatenate([self._row_ids[live], self._pending_ids])
            if compact:
                log.info("compacted style index vectors %s: dropped %d dead rows", data, dead)
        buf = io.BytesIO()
        np.save(buf, row_ids.astype("<i8"), allow_pickle=False)
        raw = buf.getvalue()
        atomic_write_bytes(rows_file, raw)
        self._row_ids = row_ids
        self._pending_ids = np.zeros(0, np.int64)
        self._pending = np.zeros((0, self.dim), np.float32)
        self._map_file(data, len(row_ids))
        assert self.token is not None
        return hashlib.sha256(raw).hexdigest(), self.token

    @staticmethod
    def stored_ids(index_path: str | os.PathLike[str]) -> np.ndarray | None:
        """The live work ids of a saved store, or None if its map is unreadable."""
        try:
            row_ids = np.load(rowmap_path(index_path), allow_pickle=False)
        except (OSError, ValueError):
            return None
        ids: np.ndarray = row_ids[row_ids >= 0].astype(np.int64)
        return ids
