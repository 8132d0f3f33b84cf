"""Wiring: builds the store, embedder, index, policy and gate from settings, lazily.

Everything heavy (torch, open_clip, faiss) is imported on first use, so commands that only
touch the registry stay fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stylegate.errors import IndexMismatch
from stylegate.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.audit import AuditLog
    from stylegate.governance.embedder import Embedder
    from stylegate.governance.gate import PolicyGate
    from stylegate.governance.policy import Policy
    from stylegate.governance.view import RegistryView
    from stylegate.recovery import Consistency, SweepReport
    from stylegate.registry.models import Artist, ImportResult, Work
    from stylegate.registry.store import RegistryStore
    from stylegate.registry.style_index import StyleIndex
    from stylegate.registry.validation import WorkLimits

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# Registry changes the audit log could not take (disk full, locked too long) wait here, one
# JSON line each, fsynced, and are appended on the next open of the audit log.
PENDING_AUDIT_FILE = "audit-pending.jsonl"


class Workspace:
    """The components of one home, built on first use.

    Only a workspace made with ``create=True`` (``stylegate init``) may create the home;
    any other refuses a missing, uninitialised or damaged one (see :mod:`stylegate.home`).
    """

    def __init__(self, settings: Settings | None = None, *, create: bool = False) -> None:
        self.settings = settings or Settings()
        self.create = create
        self.unaudited: list[str] = []  # registry changes committed but parked, not yet audited
        self._home_checked = False
        self._index_revision = -1  # the registry revision the loaded index was checked against
        self.sweep_report: SweepReport | None = None

    def require_home(self) -> None:
        """Fail closed on a missing, uninitialised or damaged home (checked once)."""
        if self._home_checked:
            return
        from stylegate.home import check_init_allowed, require_home

        if self.create:
            check_init_allowed(self.settings)
            self.settings.home.mkdir(parents=True, exist_ok=True)
        else:
            require_home(self.settings)
        self._home_checked = True
        from stylegate.recovery import SweepReport, sweep_dead_processes

        self.sweep_report = SweepReport()
        sweep_dead_processes(self.settings, self.sweep_report)

    # ------------------------------------------------------------ components
    @cached_property
    def store(self) -> RegistryStore:
        from stylegate.governance.claims import claim_rules
        from stylegate.registry.store import RegistryStore

        self.require_home()
        store = RegistryStore.open(self.settings.db_url, create=self.create,
                                   claims=claim_rules(self.policy.registry.name_collision))
        store.add_listener(self._audit_registry_event)
        self._sweep(store)
        return store

    def _sweep(self, store: RegistryStore) -> None:
        """Clear what dead processes left in the home; recover from a killed import."""
        from stylegate.locks import try_import_lock
        from stylegate.recovery import SweepReport

        report = self.sweep_report or SweepReport()
        with try_import_lock(self.settings.home, "recovery") as left_behind:
            if left_behind:
                self._recover(store, left_behind, report)
        self.sweep_report = report

    def _recover(self, store: RegistryStore, left_behind: dict, report: SweepReport) -> None:
        from stylegate.recovery import check_consistency, recover_crashed_import

        report.crashed = left_behind
        recover_crashed_import(self.settings, store, report)
        state = check_consistency(self.settings, store)
        log.warning(
            "an import was killed (%s); recovered: index restored %s, %d temp files removed%s",
            left_behind, report.index_restored, report.temp_removed,
            f"; {len(state.orphan_files)} work files no row owns: run `stylegate doctor --repair` to remove them"
            if state.orphan_files else "",
        )

    @contextmanager
    def importing(self, what: str) -> Iterator[None]:
        """Hold the home's import lock, recover from a killed holder, and use a current index."""
        from stylegate.locks import import_lock

        store = self.store
        with import_lock(self.settings.home, what, self.settings.import_lock_timeout_s) as left_behind:
            if left_behind:
                from stylegate.recovery import SweepReport

                self._recover(store, left_behind, SweepReport())
            if "index" in self.__dict__ and self._index_revision != store.revision():
                del self.__dict__["index"]  # another process changed the registry (and saved the index)
            yield

    @cached_property
    def audit(self) -> AuditLog:
        from stylegate.governance.audit import AuditLog, default_audit_path

        self.require_home()
        audit_log = AuditLog.open(default_audit_path(self.settings.home))
        self._replay_parked(audit_log)
        return audit_log

    def _audit_registry_event(self, event: str, payload: dict) -> None:
        """Store listener: every committed registry change becomes an audit entry.

        The change is already committed, so a failed append cannot undo it; the entry is
        parked in a durable side file instead and appended on the next open of the log.
        """
        from stylegate.governance.audit import registry_kind

        kind = registry_kind(event)
        try:
            self.audit.append(kind, payload)
        except Exception as exc:  # noqa: BLE001 - any failure: keep the entry, tell the caller
            self._park(kind, payload, exc)

    @property
    def parked_audit_path(self) -> Path:
        return self.settings.home / PENDING_AUDIT_FILE

    def _park(self, kind: str, payload: dict, exc: BaseException) -> None:
        from stylegate.governance.audit import utc_now

        line = json.dumps({"kind": kind, "body": payload, "parked_at": utc_now(), "error": str(exc)}, sort_keys=True)
        self.settings.home.mkdir(parents=True, exist_ok=True)
        with open(self.parked_audit_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.unaudited.append(f"{kind}: {exc}")
        log.error("audit log refused %s (%s); parked in %s", kind, exc, self.parked_audit_path)

    def _replay_parked(self, audit_log: AuditLog) -> None:
        """Append parked registry entries, oldest first; one process claims the file by renaming it."""
        path = self.parked_audit_path
        if not path.exists():
            return
        claimed = path.with_name(f"{path.name}.{os.getpid()}")
        try:
            os.replace(path, claimed)
        except FileNotFoundError:
            return  # another process claimed it
        lines = [ln for ln in claimed.read_text("utf-8").splitlines() if ln.strip()]
        done = 0
        try:
            for line in lines:
                item = json.loads(line)
                body = {**item["body"], "parked": {"at": item["parked_at"], "error": item["error"]}}
                audit_log.append(item["kind"], body)
                done += 1
        finally:
            rest = lines[done:]
            if rest:  # put back what was not appended, ahead of anything parked meanwhile
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write("".join(ln + "\n" for ln in rest))
                    fh.flush()
                    os.fsync(fh.fileno())
            claimed.unlink()
        log.warning("appended %d parked registry entries to the audit log", done)

    def configure_threads(self) -> None:
        """Apply the CPU thread setting to torch and FAISS; call before building any model."""
        import faiss
        import torch

        threads = self.settings.cpu_threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)

    @cached_property
    def embedder(self) -> Embedder:
        from stylegate.governance.embedder import Embedder

        self.configure_threads()
        s = self.settings
        if s.clip_model is None:
            from stylegate.styleworld.models import clip_checkpoint_path, register_clip

            return Embedder(register_clip(), str(clip_checkpoint_path()), device=s.device)
        return Embedder(s.clip_model, s.clip_pretrained, device=s.device, model_config=s.clip_model_config)

    @cached_property
    def policy(self) -> Policy:
        from stylegate.governance.policy import load_policy

        path = self.settings.policy_path
        if path is None:
            self.require_home()
            path = self.settings.home_policy_path
            if not path.exists():
                from stylegate.errors import HomeError

                raise HomeError(
                    f"the policy file {path} is missing; stylegate does not fall back to a default "
                    "silently: restore it, or run `stylegate init` to write the bundled default policy"
                )
        return load_policy(path)

    @cached_property
    def index(self) -> StyleIndex:
        """The style index, refused if another embedder built it or it lags the registry."""
        from stylegate.registry.style_index import StyleIndex

        path = self.settings.index_path
        identity = self.embedder.identity.to_dict()
        self._index_revision = self.store.revision()
        if not path.exists():
            works = self.store.list_works()
            if works:
                raise IndexMismatch(
                    f"no style index at {path} but {len(works)} works are registered; "
                    "run `stylegate index rebuild`"
                )
            return StyleIndex.create(self.embedder.dim, identity, self.settings.index_factory)
        index = StyleIndex.load(path, identity)
        expected = self.store.snapshot_hash()
        if index.snapshot_hash != expected:
            from stylegate.registry.ingest import index_mismatch

            raise index_mismatch(np.asarray(self.store.work_ids(), dtype=np.int64), np.sort(index.ids()))
        return index

    def gate(self) -> PolicyGate:
        """The policy gate over the registry as it is now.

        The gate is cached while the registry revision stays the same; any change (an
        artist or alias added, renamed or removed, works added or withdrawn, by this process
        or another) rebuilds it on the next call, so a long-running process never checks
        against a stale registry.
        """
        from stylegate.governance.gate import PolicyGate
        from stylegate.governance.view import build_view

        revision = self.store.revision()
        cached = self.__dict__.get("_gate")
        if cached is not None and cached[0] == revision:
            return cached[1]
        if cached is not None:
            self.__dict__.pop("index", None)  # another writer may have saved a new index
        view = build_view(self.store, self.index, self._descriptor_vectors, self.settings.works_dir,
                          neutral_anchor=self.neutral_anchor)
        gate = PolicyGate(self.policy, self.embedder, view)
        self.__dict__["_gate"] = (revision, gate)
        return gate

    def registry_view(self) -> RegistryView:
        """The registry as the gate sees it, without a gate (calibration reads it even when the
        policy's thresholds belong to another embedder)."""
        from stylegate.governance.view import build_view

        return build_view(self.store, self.index, self._descriptor_vectors, self.settings.works_dir,
                          neutral_anchor=self.neutral_anchor)

    @cached_property
    def neutral_anchor(self) -> np.ndarray:
        """The description check's baseline: the mean text vector of ordinary prompts."""
        from stylegate.governance.neutral import neutral_anchor

        return neutral_anchor(self.embedder.embed_texts)

    def _descriptor_vectors(self, artists: Sequence[Artist]) -> tuple[np.ndarray, np.ndarray]:
        """Descriptor text vectors, cached on disk by embedder and descriptor set."""
        from stylegate.governance.view import build_descriptor_vectors

        owners = [a.id for a in artists for _ in a.descriptors]
        texts = [d for a in artists for d in a.descriptors]
        if not texts:
            return np.zeros(0, np.int64), np.zeros((0, self.embedder.dim), np.float32)
        key = hashlib.sha256(
            json.dumps([self.embedder.identity.to_dict(), owners, texts]).encode()
        ).hexdigest()[:24]
        cache = self.settings.cache_dir / f"descriptors-{key}.npy"
        if cache.exists():
            try:
                vectors = np.load(cache)
                if vectors.shape == (len(texts), self.embedder.dim):
                    return np.array(owners, np.int64), vectors
            except (OSError, ValueError):
                log.warning("ignoring unreadable descriptor cache %s", cache)
        _, vectors = build_descriptor_vectors(list(artists), self.embedder)
        self.settings.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(cache)
        return np.array(owners, np.int64), vectors

    # ------------------------------------------------------------ operations
    def init(self) -> dict:
        """Create home, database, policy file and an empty index (idempotent)."""
        from stylegate.governance.policy import default_policy_text
        from stylegate.home import write_marker

        self.create = True
        self.require_home()
        home = self.settings.home
        self.settings.works_dir.mkdir(parents=True, exist_ok=True)
        created_policy = False
        if not self.settings.home_policy_path.exists():
            self.settings.home_policy_path.write_text(default_policy_text(), "utf-8")
            created_policy = True
        from stylegate.governance.signing import key_paths, load_or_create_signer

        store = self.store
        index = self.index
        if not self.settings.index_path.exists():
            index.save(self.settings.index_path, store.snapshot_hash())
        signer = load_or_create_signer(home)
        from stylegate.governance.c2pa_pki import ensure_workspace_identity

        c2pa_identity = ensure_workspace_identity(home)
        _ = self.audit
        write_marker(self.settings)
        return {
            "home": str(home),
            "database": self.settings.db_url,
            "index": str(self.settings.index_path),
            "policy": str(self.settings.home_policy_path),
            "audit_log": str(self.audit.path),
            "signing_key": str(key_paths(home)[0]),
            "key_id": signer.key_id,
            "c2pa_certificate": str(c2pa_identity.chain),
            "c2pa_trust_anchor": str(c2pa_identity.anchor),
            "created_policy": created_policy,
            "embedder": self.embedder.identity.to_dict(),
        }

    def add_works(self, artist_ref: str, paths: Sequence[Path], progress: Progress | None = None) -> ImportResult:
        from stylegate.registry.ingest import add_works

        with self.importing("works add"):
            result = add_works(
            self.store,
            self.index,
            self.settings.index_path,
            self.settings.works_dir,
            artist_ref,
            list(paths),
            self.embedder.embed_images,
            limits=self.work_limits(),
            progress=progress,
        )
        from stylegate.generator.content_credentials import consent_signals
        from stylegate.registry.ingest import expand_paths

        artist = self.store.get_artist(artist_ref)
        result.consent_signals = consent_signals(expand_paths(list(paths)), artist.consent.value)
        self._keep_consent_signals(result)
        return result

    def _keep_consent_signals(self, result: ImportResult) -> None:
        """Store each added work's signal, so `artists list` and the dashboard can show it later."""
        from stylegate.registry.works import file_sha256

        if not result.consent_signals or not result.added:
            return
        by_sha = {w.sha256: w.id for w in result.added}
        keep = {}
        for signal in result.consent_signals:
            try:
                work_id = by_sha.get(file_sha256(signal["path"]))
            except OSError:
                continue
            if work_id is not None:
                keep[work_id] = {k: signal[k] for k in ("training_mining", "status", "signer")}
        self.store.set_consent_signals(keep)

    def remove_artist(self, artist_ref: str) -> tuple[Artist, list[Work]]:
        from stylegate.registry.ingest import remove_artist_and_works

        with self.importing("artists remove"):
            return remove_artist_and_works(
                self.store, self.index, self.settings.index_path, self.settings.works_dir, artist_ref
            )

    def remove_works(self, work_ids: Sequence[int]) -> list[Work]:
        """Withdraw works: rows, vectors and (after the commit) files, all or nothing."""
        from stylegate.registry.ingest import remove_works

        with self.importing("works remove"):
            return remove_works(self.store, self.index, self.settings.index_path, work_ids,
                                works_dir=self.settings.works_dir)

    def rebuild_index(self, progress: Progress | None = None, *, drop_unregistered: bool = False) -> StyleIndex:
        with self.importing("index rebuild"):
            index = self._rebuild(progress, drop_unregistered)
        self.__dict__["index"] = index
        self._index_revision = self.store.revision()
        return index

    def _rebuild(self, progress: Progress | None, drop_unregistered: bool) -> StyleIndex:
        from stylegate.registry.ingest import rebuild_index
        from stylegate.registry.style_index import StyleIndex

        return rebuild_index(
            self.store,
            self.settings.works_dir,
            self.embedder.embed_images,
            self.embedder.identity.to_dict(),
            self.settings.index_factory,
            self.settings.index_path,
            progress=progress,
            previous_ids=StyleIndex.stored_ids(self.settings.index_path) if self.settings.index_path.exists() else None,
            drop_unregistered=drop_unregistered,
        )

    def work_limits(self) -> WorkLimits:
        from stylegate.registry.validation import WorkLimits

        s = self.settings
        return WorkLimits(max_pixels=s.max_image_pixels, max_bytes=s.max_image_bytes, min_side=s.min_image_side)

    def check_consistency(self, repair: bool = False) -> Consistency:
        """Rows, index and files compared (under the import lock); ``repair`` removes orphan files."""
        from stylegate.recovery import check_consistency

        with self.importing("doctor"):
            return check_consistency(self.settings, self.store, repair=repair)


