"""The ingest operations front ends call: init, add and withdraw works, remove artists, rebuild.

Each change to works and the style index holds the home's import lock (see
:mod:`stylegate.locks`), recovers from a killed earlier holder (see :mod:`stylegate.recovery`)
and works on an index that is current with the registry; the change itself is one
:class:`~stylegate.registry.ingest.WorkIngest` call, all or nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.recovery import Consistency
    from stylegate.registry.ingest import Progress, WorkIngest
    from stylegate.registry.models import Artist, ImportResult, Work
    from stylegate.registry.store import RegistryStore
    from stylegate.registry.style_index import StyleIndex
    from stylegate.workspace import Workspace

log = logging.getLogger(__name__)


@contextmanager
def importing(ws: Workspace, what: str) -> Iterator[None]:
    """Hold the home's import lock, recover from a killed holder, and use a current index."""
    from stylegate.locks import import_lock
    from stylegate.recovery import SweepReport, recover_killed_import

    store = ws.store
    with import_lock(ws.settings.home, what, ws.settings.import_lock_timeout_s) as left_behind:
        if left_behind:
            recover_killed_import(ws.settings, store, left_behind, SweepReport())
        ws.gate_cache.drop_stale_index()  # another process changed the registry (and saved the index)
        yield


def _ingest(ws: Workspace, *, live_index: bool = True) -> WorkIngest:
    """The ingest over ``ws``'s components; the embedder is built only if an image is embedded."""
    from stylegate.registry.ingest import WorkIngest

    def embed_images(images: list) -> Any:
        return ws.embedder.embed_images(images)

    s = ws.settings
    return WorkIngest(ws.store, s.index_path, s.works_dir, embed_images,
                      index=ws.index if live_index else None, limits=ws.work_limits())


def init_home(ws: Workspace) -> dict:
    """Create home, database, policy file and an empty index (idempotent)."""
    from stylegate.governance.audit.signing import key_paths, load_or_create_signer
    from stylegate.governance.c2pa_pki import ensure_workspace_identity
    from stylegate.governance.policy import default_policy_text
    from stylegate.home import write_marker

    ws.create = True
    ws.require_home()
    settings = ws.settings
    home = settings.home
    settings.works_dir.mkdir(parents=True, exist_ok=True)
    created_policy = False
    if not settings.home_policy_path.exists():
        settings.home_policy_path.write_text(default_policy_text(), "utf-8")
        created_policy = True
    store = ws.store
    index = ws.index
    if not settings.index_path.exists():
        index.save(settings.index_path, store.snapshot_hash())
    signer = load_or_create_signer(home)
    c2pa_identity = ensure_workspace_identity(home)
    audit_log = ws.audit
    write_marker(settings)
    return {
        "home": str(home),
        "database": settings.db_url,
        "index": str(settings.index_path),
        "policy": str(settings.home_policy_path),
        "audit_log": audit_log.location,
        "signing_key": str(key_paths(home)[0]),
        "key_id": signer.key_id,
        "c2pa_certificate": str(c2pa_identity.chain),
        "c2pa_trust_anchor": str(c2pa_identity.anchor),
        "created_policy": created_policy,
        "embedder": ws.embedder.identity.to_dict(),
    }


def add_works(ws: Workspace, artist_ref: str | int, paths: Sequence[str | Path],
              progress: Progress = None) -> ImportResult:
    """Validate, embed, store and index an artist's reference works, all or nothing.

    The files' own C2PA training-and-data-mining assertions are read after the import and
    kept with the added works.
    """
    from stylegate.generator.content_credentials import consent_signals
    from stylegate.registry.ingest import expand_paths

    paths = list(paths)
    with importing(ws, "works add"):
        result = _ingest(ws).add_works(artist_ref, paths, progress)
    artist = ws.store.get_artist(artist_ref)
    result.consent_signals = consent_signals(expand_paths(paths), artist.consent.value)
    _keep_consent_signals(ws.store, result)
    return result


def _keep_consent_signals(store: RegistryStore, result: ImportResult) -> None:
    """Store each added work's signal, so `artists list` and the dashboard can show it later.

    A signal names its file; the import already hashed every file, so the work it became is
    found by that hash.
    """
    if not result.consent_signals or not result.added:
        return
    by_sha = {w.sha256: w.id for w in result.added}
    keep = {}
    for signal in result.consent_signals:
        sha256 = result.sha256_by_path.get(signal["path"])
        work_id = by_sha.get(sha256) if sha256 is not None else None
        if work_id is not None:
            keep[work_id] = {k: signal[k] for k in ("training_mining", "status", "signer")}
    store.set_consent_signals(keep)


def remove_artist(ws: Workspace, artist_ref: str | int) -> tuple[Artist, list[Work]]:
    """Remove an artist with their works' rows, vectors and (after the commit) files."""
    with importing(ws, "artists remove"):
        return _ingest(ws).remove_artist(artist_ref)


def remove_works(ws: Workspace, work_ids: Sequence[int]) -> list[Work]:
    """Withdraw works: rows, vectors and (after the commit) files, all or nothing."""
    with importing(ws, "works remove"):
        return _ingest(ws).remove_works(work_ids)


def rebuild_index(ws: Workspace, progress: Progress = None, *, drop_unregistered: bool = False) -> StyleIndex:
    """Recreate the style index from the registry database and the stored files."""
    with importing(ws, "index rebuild"):
        index = _ingest(ws, live_index=False).rebuild_index(
            ws.embedder.identity.to_dict(), ws.settings.index_factory, progress,
            drop_unregistered=drop_unregistered,
        )
    ws.gate_cache.replace_index(index)
    return index


def check_consistency(ws: Workspace, repair: bool = False) -> Consistency:
    """Rows, index and files compared (under the import lock); ``repair`` removes orphan files."""
    from stylegate.recovery import check_consistency as compare

    with importing(ws, "doctor"):
        return compare(ws.settings, ws.store, repair=repair)
