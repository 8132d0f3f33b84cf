"""Transactional changes that span the database, the works directory and the style index.

Every operation here is all-or-nothing across the three:

1. everything that can be checked without side effects is checked first (files validated,
   duplicates found, the index compared with the registry);
2. new work files are written content-addressed into the works dir, recording exactly which
   files and folders this call created;
3. inside one database write transaction: rows are inserted or deleted, the in-memory index is
   changed (after taking a checkpoint), the index file is saved atomically (after keeping a
   hard-linked backup of the old file and sidecar), and the transaction commits;
4. if anything in 2-3 raises (embedding, a copy, an insert, the save, the commit), the
   transaction rolls back, the index file and sidecar are put back byte for byte, the
   in-memory index is restored from its checkpoint and the files created by this call are
   removed. Removed works' files are deleted only after the commit.

:class:`WorkIngest` holds what every operation needs (store, index file, works dir, embedding
function, limits). The embedding function is passed in: ``embed_images(list[PIL.Image]) ->
(n, dim) float32`` with L2-normalised rows. This package never imports the governance layer.
Callers serialise operations on one home (the shell holds its import lock).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from stylegate.errors import IndexMismatch, InputError, InvalidWork, StylegateError, UnregisteredVectors

from ._fs import FileBackup
from .index_deltas import clear_deltas, delta_path, write_delta
from .models import Artist, ImportResult, Work
from .store import RegistryStore, Transaction
from .style_index import DEFAULT_FACTORY, StyleIndex, index_files
from .validation import IMAGE_EXTENSIONS, ValidatedImage, WorkLimits, read_limited, to_rgb, validate_work
from .works import StagedFiles, delete_work_file, read_work_bytes, store_work_bytes

log = logging.getLogger(__name__)

EmbedFn = Callable[[list[Image.Image]], Any]
Progress = Any  # callable(n_done, n_total), or a tqdm-like object with update(n)


# -- helpers ------------------------------------------------------------------------------


class _ProgressReporter:
    def __init__(self, hook: Progress, total: int) -> None:
        self.hook = hook
        self.total = total
        self.done = 0
        if hook is not None and hasattr(hook, "update") and getattr(hook, "total", 0) is None:
            try:
                hook.total = total
            except AttributeError:
                pass

    def advance(self, n: int) -> None:
        self.done += n
        if self.hook is None or n == 0:
            return
        if hasattr(self.hook, "update"):  # tqdm-like
            self.hook.update(n)
        else:
            self.hook(self.done, self.total)


def expand_paths(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[Path]:
    """Files as given, folders expanded recursively (sorted) to their image files.

    Hidden files and folders inside a folder are skipped; a path that does not exist raises
    :class:`InvalidWork`. The result keeps the order given and has no repeated paths.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    seen: set[Path] = set()

    def take(p: Path) -> None:
        key = p.absolute()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found: list[Path] = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                        found.append(Path(root) / name)
            for f in sorted(found):
                take(f)
        elif p.exists():
            take(p)
        else:
            raise InvalidWork(str(p), "no such file or directory")
    return out


def _check_embeddings(vectors: Any, n: int, dim: int) -> np.ndarray:
    arr = np.asarray(vectors)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise StylegateError(f"the embedder returned shape {arr.shape} for {n} images")
    if arr.shape[1] != dim:
        raise IndexMismatch(
            f"the embedder returns {arr.shape[1]}-dimensional vectors but the style index has {dim}; "
            "run `stylegate index rebuild`"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def _require_index_current(store: RegistryStore, index: StyleIndex, tx: Transaction | None = None) -> None:
    """The in-memory index must hold exactly the registry's works before we change both."""
    db_ids = np.asarray(store.work_ids(tx=tx), dtype=np.int64)
    ix_ids = np.sort(index.ids())
    if db_ids.shape != ix_ids.shape or not np.array_equal(db_ids, ix_ids):
        raise index_mismatch(db_ids, ix_ids)


def index_mismatch(db_ids: np.ndarray, ix_ids: np.ndarray) -> IndexMismatch:
    """The error for an index that disagrees with the registry, with advice that is safe.

    Rebuilding from the database is safe when the index merely lags it. When the index holds
    works the database does not know, the database may have lost rows: a rebuild would drop
    those artists' vectors, so the advice is to restore the database first.
    """
    unknown = np.setdiff1d(ix_ids, db_ids)
    lagging = np.setdiff1d(db_ids, ix_ids)
    counts = f"{len(db_ids)} works registered, {len(ix_ids)} in the index"
    if len(unknown):
        return IndexMismatch(
            f"the style index holds {len(unknown)} works the registry database does not know ({counts}); "
            "the database may have lost rows: restore it from a backup. Only if those works were really "
            "withdrawn, run `stylegate index rebuild --drop-unregistered`"
        )
    return IndexMismatch(
        f"the style index lacks {len(lagging)} registered works ({counts}); run `stylegate index rebuild`"
    )


def index_is_current(store: RegistryStore, index: StyleIndex) -> bool:
    """True when the index was saved for the registry's current snapshot."""
    return index.snapshot_hash is not None and index.snapshot_hash == store.snapshot_hash()


@dataclass
class _Undo:
    """What to put back if the operation fails."""

    index: StyleIndex
    index_path: Path
    staged: StagedFiles
    checkpoint: Any = None
    backup: FileBackup | None = None

    def run(self) -> None:
        if self.backup is not None:
            self.backup.restore()
            self.backup = None
        if self.checkpoint is not None:
            try:
                self.index.restore(self.checkpoint)
            except Exception:  # noqa: BLE001 - keep undoing the rest
                log.exception("could not restore the in-memory style index")
            self.checkpoint = None
        self.staged.undo()

    def commit(self) -> None:
        if self.backup is not None:
            self.backup.discard()
            self.backup = None
        self.checkpoint = None


def _save_index(undo: _Undo, snapshot: str, removed: Sequence[int] = (), added_ids: Sequence[int] = (),
                added_vectors: np.ndarray | None = None) -> None:
    """Save the changed index, after the delta that lets running readers apply the change
    instead of reading the file again (:mod:`~stylegate.registry.index_deltas`)."""
    before = undo.checkpoint.snapshot_hash if undo.checkpoint is not None else None
    vectors = np.zeros((0, undo.index.dim), np.float32) if added_vectors is None else added_vectors
    # the delta is backed up with the index: a failed change leaves none behind
    undo.backup = FileBackup([*index_files(undo.index_path), delta_path(undo.index_path, snapshot)])
    write_delta(undo.index_path, undo.index, before, snapshot, np.asarray(removed, np.int64),
                np.asarray(added_ids, np.int64), vectors)
    undo.index.save(undo.index_path, snapshot)


# -- the ingest ---------------------------------------------------------------------------


@dataclass
class WorkIngest:
    """Add, withdraw and re-index works of one home, each operation all or nothing.

    ``index`` is the in-memory style index that :meth:`add_works`, :meth:`remove_works` and
    :meth:`remove_artist` change (and save to ``index_path``); :meth:`rebuild_index` replaces
    it. It may be None for a rebuild, which never reads the old index's vectors.
    """

    store: RegistryStore
    index_path: Path
    works_dir: Path
    embed_images: EmbedFn
    index: StyleIndex | None = None
    limits: WorkLimits = field(default_factory=WorkLimits)
    batch_size: int = 32

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or int(self.batch_size) < 1:
            raise InputError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        self.batch_size = int(self.batch_size)
        self.index_path = Path(self.index_path)
        self.works_dir = Path(self.works_dir)

    def _live_index(self) -> StyleIndex:
        if self.index is None:
            raise StylegateError("no style index loaded: this operation changes the live index")
        return self.index

    def _undo(self) -> _Undo:
        return _Undo(index=self._live_index(), index_path=self.index_path, staged=StagedFiles())

    # -- add ------------------------------------------------------------------------------

    def add_works(
        self,
        artist_ref: str | int,
        paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        progress: Progress = None,
    ) -> ImportResult:
        """Validate, embed, store and index reference works for one artist, all or nothing.

        Any invalid file raises :class:`InvalidWork` before anything changes. Files whose content
        is already registered (or repeated within ``paths``) are skipped and listed in
        ``duplicates`` as ``(path, existing work id)``. ``sha256_by_path`` names every file's
        content, so callers need not hash them again.
        """
        store, limits = self.store, self.limits
        artist = store.get_artist(artist_ref)
        files = expand_paths(paths)
        if not files:
            raise InputError("no image files found (looked for .png, .jpg, .jpeg, .webp)")

        # 1. validate everything (keeping only the metadata, not the bytes, in memory)
        checked: list[ValidatedImage] = [validate_work(f, limits).without_data() for f in files]

        # 2. duplicates: already registered, or repeated in this batch
        result = ImportResult()
        result.sha256_by_path = {str(v.path): v.sha256 for v in checked}
        existing = store.works_by_sha256(v.sha256 for v in checked)
        first_in_batch: dict[str, ValidatedImage] = {}
        repeats: list[ValidatedImage] = []
        new: list[ValidatedImage] = []
        for v in checked:
            if v.sha256 in existing:
                result.duplicates.append((v.path, existing[v.sha256].id))
            elif v.sha256 in first_in_batch:
                repeats.append(v)
            else:
                first_in_batch[v.sha256] = v
                new.append(v)
        if not new:
            log.info("nothing to add for %s: %d duplicates", artist.name, len(result.duplicates))
            return result

        index = self._live_index()
        _require_index_current(store, index)  # fail fast; checked again under the write lock
        reporter = _ProgressReporter(progress, len(new))
        undo = self._undo()
        try:
            # 3. embed and store the files, batch by batch (side effects: new files only)
            vectors: list[np.ndarray] = []
            relpaths: list[str] = []
            for start in range(0, len(new), self.batch_size):
                batch = new[start : start + self.batch_size]
                images = []
                for v in batch:
                    data = read_limited(v.path, limits.max_bytes)
                    if len(data) != v.size_bytes or _sha256(data) != v.sha256:
                        raise InvalidWork(v.path, "the file changed during the import")
                    relpaths.append(store_work_bytes(self.works_dir, v.sha256, v.extension, data, undo.staged))
                    images.append(to_rgb(data))
                vectors.append(_check_embeddings(self.embed_images(images), len(batch), index.dim))
                reporter.advance(len(batch))
            all_vectors = np.concatenate(vectors, axis=0)

            # 4. one transaction: rows, index, index file, commit
            with store.transaction() as tx:
                _require_index_current(store, index, tx)
                late = store.works_by_sha256((v.sha256 for v in new), tx=tx)
                if late:
                    raise StylegateError(
                        f"{len(late)} of these works were registered by another process meanwhile; run the import again"
                    )
                records = [
                    {
                        "sha256": v.sha256,
                        "path": rel,
                        "format": v.format,
                        "width": v.width,
                        "height": v.height,
                        "size_bytes": v.size_bytes,
                    }
                    for v, rel in zip(new, relpaths)
                ]
                added = store.insert_works(tx, artist.id, records)
                undo.checkpoint = index.checkpoint()
                added_ids = [w.id for w in added]
                index.add(np.array(added_ids, dtype=np.int64), all_vectors)
                _save_index(undo, store.snapshot_hash(tx=tx), added_ids=added_ids, added_vectors=all_vectors)
        except BaseException:
            _keep_registered_files(store, undo.staged)
            undo.run()
            raise
        undo.commit()

        result.added.extend(added)
        by_sha = {w.sha256: w.id for w in added}
        result.duplicates.extend((v.path, by_sha[v.sha256]) for v in repeats)
        log.info(
            "added %d works for %s (%d duplicates skipped)", len(added), artist.name, len(result.duplicates)
        )
        return result

    # -- remove ---------------------------------------------------------------------------

    def remove_works(self, work_ids: Iterable[int]) -> list[Work]:
        """Withdraw works from the registry and the index, all or nothing.

        Unknown ids raise :class:`InputError` and change nothing. The stored files are deleted
        after the commit.
        """
        ids = sorted({int(i) for i in work_ids})
        if not ids:
            return []
        store = self.store
        undo = self._undo()
        try:
            with store.transaction() as tx:
                _require_index_current(store, undo.index, tx)
                removed = store.delete_works(tx, ids)
                undo.checkpoint = undo.index.checkpoint()
                undo.index.remove(np.array(ids, dtype=np.int64))
                _save_index(undo, store.snapshot_hash(tx=tx), removed=ids)
        except BaseException:
            undo.run()
            raise
        undo.commit()
        _delete_files(self.works_dir, removed)
        log.info("removed %d works", len(removed))
        return removed

    def remove_artist(self, ref: str | int) -> tuple[Artist, list[Work]]:
        """Remove an artist, their works' rows, vectors and (after the commit) files."""
        store = self.store
        undo = self._undo()
        try:
            with store.transaction() as tx:
                _require_index_current(store, undo.index, tx)
                artist, removed = store.remove_artist(ref, tx=tx)
                if removed:  # the works snapshot changes only if there were works
                    undo.checkpoint = undo.index.checkpoint()
                    undo.index.remove(np.array([w.id for w in removed], dtype=np.int64))
                    _save_index(undo, store.snapshot_hash(tx=tx), removed=[w.id for w in removed])
        except BaseException:
            undo.run()
            raise
        undo.commit()
        _delete_files(self.works_dir, removed)
        return artist, removed

    # -- rebuild --------------------------------------------------------------------------

    def rebuild_index(
        self,
        identity: dict[str, Any],
        factory: str = DEFAULT_FACTORY,
        progress: Progress = None,
        *,
        search_params: str | None = None,
        drop_unregistered: bool = False,
    ) -> StyleIndex:
        """Recreate the style index from the database (the source of truth) and the stored files.

        Every stored file is checked against its sha256. The new index is saved (atomically) to
        ``index_path`` only if the registry did not change while it was being built, and becomes
        this ingest's live index. When the index file there holds works the database does not
        know, the rebuild is refused unless ``drop_unregistered``: those vectors may be all that
        is left of rows the database lost.
        """
        store = self.store
        dim = identity.get("dim") if isinstance(identity, dict) else None
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise InputError("embedder identity must include an integer dim")
        previous_ids = StyleIndex.stored_ids(self.index_path) if self.index_path.exists() else None
        with store.transaction(write=False) as tx:
            revision = store.revision(tx=tx)
            works = store.list_works(tx=tx)
            snapshot = store.snapshot_hash(tx=tx)
        if previous_ids is not None and not drop_unregistered:
            _refuse_dropping_vectors(previous_ids, works)
        index = StyleIndex.create(dim, identity, factory, search_params=search_params)
        reporter = _ProgressReporter(progress, len(works))
        ids: list[int] = []
        chunks: list[np.ndarray] = []
        for start in range(0, len(works), self.batch_size):
            batch = works[start : start + self.batch_size]
            images = [to_rgb(read_work_bytes(self.works_dir, w.path, w.sha256)) for w in batch]
            chunks.append(_check_embeddings(self.embed_images(images), len(batch), dim))
            ids.extend(w.id for w in batch)
            reporter.advance(len(batch))
        if ids:
            index.add(np.array(ids, dtype=np.int64), np.concatenate(chunks, axis=0))
        backup: FileBackup | None = None
        try:
            with store.transaction() as tx:  # holds the write lock: no change can slip in
                if store.revision(tx=tx) != revision:
                    raise StylegateError(
                        "the registry changed during the rebuild; run `stylegate index rebuild` again"
                    )
                backup = FileBackup(index_files(self.index_path))
                clear_deltas(self.index_path)  # a rebuilt index does not follow from them: readers reload
                index.save(self.index_path, snapshot)
        except BaseException:
            if backup is not None:
                backup.restore()
            raise
        if backup is not None:
            backup.discard()
        self.index = index
        log.info("rebuilt style index: %d works, factory %s", len(index), factory)
        return index


def _refuse_dropping_vectors(previous_ids: np.ndarray, works: Sequence[Work]) -> None:
    unknown = np.setdiff1d(previous_ids, np.array([w.id for w in works], dtype=np.int64))
    if len(unknown):
        raise UnregisteredVectors(
            f"the style index holds {len(unknown)} works that the registry database does not know "
            f"(ids {', '.join(map(str, unknown[:10].tolist()))}{'…' if len(unknown) > 10 else ''}); a rebuild "
            "would drop them and let those artists' styles pass. Restore the database from a backup, or, "
            "if the works were really withdrawn, run `stylegate index rebuild --drop-unregistered`"
        )


def _keep_registered_files(store: RegistryStore, staged: StagedFiles) -> None:
    """Do not delete a new file that another process registered meanwhile (same content)."""
    if not staged.files:
        return
    try:
        registered = set(store.works_by_sha256(p.stem for p in staged.files))
    except Exception:  # noqa: BLE001 - cannot tell: keep them all (orphans are harmless)
        log.warning("registry unreachable while rolling back; keeping %d new work files", len(staged.files))
        staged.files.clear()
        return
    staged.files[:] = [p for p in staged.files if p.stem not in registered]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _delete_files(works_dir: Path, works: Iterable[Work]) -> None:
    for w in works:
        try:
            delete_work_file(works_dir, w.path)
        except (OSError, StylegateError):
            log.warning("could not delete stored work %s (it is no longer registered)", w.path)
