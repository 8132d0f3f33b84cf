"""Putting a home back in order after a crash, and checking that its parts agree.

Opening a home (any command) sweeps what dead processes left behind: upload folders of the
service and audit entries a killed process had claimed for replay. When the import lock file
shows that an import was killed, it also puts back the style index the import was replacing
(the hard-linked backup it kept, if that backup matches the database) and removes its temp
files. Work files that no row owns are reported, never deleted silently: ``stylegate doctor
--repair`` removes them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from stylegate.locks import pid_alive, try_import_lock
from stylegate.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.registry.store import RegistryStore

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "upload-"
_UPLOAD_DIR = re.compile(rf"^{UPLOAD_PREFIX}(\d+)-")
_TEMP = re.compile(r"^\..+\.(tmp|[0-9a-f]{12}\.bak)$")


@dataclass
class SweepReport:
    uploads_removed: int = 0
    parked_returned: int = 0
    temp_removed: int = 0
    index_restored: bool = False
    crashed: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"uploads_removed": self.uploads_removed, "parked_returned": self.parked_returned,
                "temp_removed": self.temp_removed, "index_restored": self.index_restored,
                "crashed_import": self.crashed or None}


def sweep_dead_processes(settings: Settings, report: SweepReport) -> None:
    """Upload folders and claimed audit entries of processes that no longer run."""
    tmp = settings.home / "tmp"
    if tmp.is_dir():
        for entry in tmp.iterdir():
            m = _UPLOAD_DIR.match(entry.name)
            if m and entry.is_dir() and not pid_alive(int(m.group(1))):
                shutil.rmtree(entry, ignore_errors=True)
                report.uploads_removed += 1
    from stylegate.governance.audit.outbox import AuditOutbox

    report.parked_returned += AuditOutbox(settings.home).return_claims(pid_alive)


def sweep_killed_import(settings: Settings, store: RegistryStore, report: SweepReport) -> SweepReport:
    """On opening the registry: recover from a killed import if the import lock is free now."""
    with try_import_lock(settings.home, "recovery") as left_behind:
        if left_behind:
            recover_killed_import(settings, store, left_behind, report)
    return report


def recover_killed_import(settings: Settings, store: RegistryStore, left_behind: dict, report: SweepReport) -> None:
    """Recover from the import that left ``left_behind`` in the lock file (the lock is held)."""
    report.crashed = left_behind
    recover_crashed_import(settings, store, report)
    state = check_consistency(settings, store)
    log.warning(
        "an import was killed (%s); recovered: index restored %s, %d temp files removed%s",
        left_behind, report.index_restored, report.temp_removed,
        f"; {len(state.orphan_files)} work files no row owns: run `stylegate doctor --repair` to remove them"
        if state.orphan_files else "",
    )


def recover_crashed_import(settings: Settings, store: RegistryStore, report: SweepReport) -> None:
    """Undo what a killed import left: its half-saved index and its temp files.

    Called only while holding the import lock, so no live import owns any of these files.
    """
    report.index_restored = _restore_index_backup(settings.index_path, store.snapshot_hash())
    for folder in (settings.index_path.parent, settings.works_dir):
        if not folder.is_dir():
            continue
        for root, _dirs, files in os.walk(folder):
            for name in files:
                if _TEMP.match(name):
                    try:
                        os.unlink(os.path.join(root, name))
                        report.temp_removed += 1
                    except FileNotFoundError:
                        pass


def _pair_matches(index: Path, sidecar: Path, snapshot: str) -> bool:
    """Whether an index file and sidecar belong together and reflect the database's snapshot.

    A kill between the two renames of a save leaves a new index beside an old sidecar, so the
    index bytes are checked against the sidecar's hash too.
    """
    try:
        meta = json.loads(sidecar.read_text("utf-8"))
        data = index.read_bytes()
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict) or meta.get("snapshot_hash") != snapshot:
        return False
    import hashlib

    return hashlib.sha256(data).hexdigest() == meta.get("index_sha256")


def _restore_index_backup(index_path: Path, snapshot: str) -> bool:
    """Put back the backup pair that matches the database, if the live pair does not."""
    sidecar = index_path.with_name(index_path.name + ".json")
    if _pair_matches(index_path, sidecar, snapshot):
        return _repair_live_vectors(index_path, sidecar)
    folder = index_path.parent
    for backup_sidecar in sorted(folder.glob(f".{sidecar.name}.*.bak")):
        token = backup_sidecar.name[len(sidecar.name) + 2 : -len(".bak")]
        backup_index = folder / f".{index_path.name}.{token}.bak"
        if backup_index.exists() and _pair_matches(backup_index, backup_sidecar, snapshot):
            os.replace(backup_index, index_path)
            os.replace(backup_sidecar, sidecar)
            _restore_vector_backups(index_path, token)
            log.warning("restored the style index that a killed import was replacing (backup %s)", token)
            return True
    return False


def _repair_live_vectors(index_path: Path, sidecar: Path) -> bool:
    """A kill after the vectors' row map was replaced but before the index: put the backed-up
    row map (and vectors file) that the live sidecar names back."""
    import hashlib

    from stylegate.registry.vector_store import rowmap_path

    try:
        want = (json.loads(sidecar.read_text("utf-8")).get("vectors") or {}).get("rowmap_sha256")
    except (OSError, ValueError, AttributeError):
        return False
    live = rowmap_path(index_path)
    if not want or (live.exists() and hashlib.sha256(live.read_bytes()).hexdigest() == want):
        return False
    for backup in sorted(live.parent.glob(f".{live.name}.*.bak")):
        if hashlib.sha256(backup.read_bytes()).hexdigest() == want:
            _restore_vector_backups(index_path, backup.name[len(live.name) + 2 : -len(".bak")])
            log.warning("restored the style index vectors map that a killed import was replacing")
            return True
    return False


def _restore_vector_backups(index_path: Path, token: str) -> None:
    """The vectors file and row map backed up with the same token go back with their index."""
    from stylegate.registry.vector_store import rowmap_path, vectors_path

    for live in (vectors_path(index_path), rowmap_path(index_path)):
        backup = live.with_name(f".{live.name}.{token}.bak")
        if backup.exists():
            os.replace(backup, live)


@dataclass
class Consistency:
    """Whether the registry, the style index and the work files agree."""

    works: int
    indexed: int
    files: int
    orphan_files: list[str]
    missing_files: list[str]
    unindexed: list[int]
    unregistered_vectors: list[int]
    removed_orphans: int = 0

    @property
    def ok(self) -> bool:
        return not (self.orphan_files or self.missing_files or self.unindexed or self.unregistered_vectors)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "works": self.works, "indexed": self.indexed, "files": self.files,
                "orphan_files": self.orphan_files[:100], "orphan_file_count": len(self.orphan_files),
                "missing_files": self.missing_files[:100], "unindexed_works": self.unindexed[:100],
                "unregistered_vectors": self.unregistered_vectors[:100], "removed_orphans": self.removed_orphans}


def check_consistency(settings: Settings, store: RegistryStore, repair: bool = False) -> Consistency:
    """Compare rows, index ids and files; with ``repair``, delete files that no row owns.

    Call while holding the import lock (nothing may be half-imported).
    """
    import numpy as np

    from stylegate.registry.style_index import StyleIndex

    works = store.list_works()
    owned = {w.path for w in works}
    on_disk: set[str] = set()
    if settings.works_dir.is_dir():
        for sub in settings.works_dir.iterdir():
            if sub.is_dir():
                on_disk.update(f"{sub.name}/{f.name}" for f in sub.iterdir() if f.is_file() and not f.name.startswith("."))
    ids = StyleIndex.stored_ids(settings.index_path) if settings.index_path.exists() else np.zeros(0, np.int64)
    index_ids = set() if ids is None else {int(i) for i in ids}
    row_ids = {w.id for w in works}
    result = Consistency(
        works=len(works), indexed=len(index_ids), files=len(on_disk),
        orphan_files=sorted(on_disk - owned), missing_files=sorted(owned - on_disk),
        unindexed=sorted(row_ids - index_ids), unregistered_vectors=sorted(index_ids - row_ids),
    )
    if repair:
        from stylegate.registry.works import delete_work_file

        for rel in result.orphan_files:
            if delete_work_file(settings.works_dir, rel):
                result.removed_orphans += 1
        log.warning("removed %d work files that no registry row owned", result.removed_orphans)
        result.orphan_files = []
    return result
