"""The composition root: builds the store, embedder, index, policy, audit log and gate from
settings, lazily, and keeps them. Operations on them live in :mod:`stylegate.operations`.

Everything heavy (torch, open_clip, faiss) is imported on first use, so commands that only
touch the registry stay fast.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stylegate.errors import IndexMismatch
from stylegate.gate_cache import GateCache
from stylegate.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.audit import AuditLog, AuditOutbox
    from stylegate.governance.embedder import ClipEmbedder
    from stylegate.governance.gate import PolicyGate
    from stylegate.governance.matching.view import RegistryView
    from stylegate.governance.policy import Policy
    from stylegate.recovery import SweepReport
    from stylegate.registry.models import Artist
    from stylegate.registry.store import RegistryStore
    from stylegate.registry.style_index import StyleIndex
    from stylegate.registry.validation import WorkLimits

log = logging.getLogger(__name__)

# Change-log rows past which a running gate is rebuilt rather than brought forward.
REFRESH_MAX_CHANGES = 2000
INDEX_SETTLE_S = 3.0  # how long the index file and the registry may disagree while another process writes


class Workspace:
    """The components of one home, built on first use.

    Only a workspace made with ``create=True`` (``stylegate init``) may create the home;
    any other refuses a missing, uninitialised or damaged one (see :mod:`stylegate.home`).
    """

    def __init__(self, settings: Settings | None = None, *, create: bool = False) -> None:
        self.settings = settings or Settings()
        self.create = create
        self._home_checked = False
        self.sweep_report: SweepReport | None = None
        self.gate_cache = GateCache(lambda: self.store.revision(), self._load_index, self._build_gate,
                                    self._refresh_gate)

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
        from stylegate.governance.screening.claims import claim_rules
        from stylegate.registry.store import RegistryStore

        self.require_home()
        store = RegistryStore.open(self.settings.db_url, create=self.create,
                                   claims=claim_rules(self.policy.registry.name_collision))
        store.add_listener(self._audit_registry_event)
        self._sweep(store)
        return store

    def _sweep(self, store: RegistryStore) -> None:
        """Clear what dead processes left in the home; recover from a killed import."""
        from stylegate.recovery import SweepReport, sweep_killed_import

        self.sweep_report = sweep_killed_import(self.settings, store, self.sweep_report or SweepReport())

    @cached_property
    def outbox(self) -> AuditOutbox:
        """Registry changes the audit log refused wait here (see :mod:`~stylegate.governance.audit.outbox`)."""
        from stylegate.governance.audit import AuditOutbox

        return AuditOutbox(self.settings.home)

    @property
    def unaudited(self) -> list[str]:
        """Registry changes this process committed but parked, not yet audited."""
        return self.outbox.unaudited

    @property
    def parked_audit_path(self) -> Path:
        return self.outbox.path

    @cached_property
    def audit(self) -> AuditLog:
        from stylegate.governance.audit import AuditLog

        self.require_home()
        audit_log = AuditLog.open(self.settings.audit_target, create=self.create)
        self.outbox.replay(audit_log)
        return audit_log

    def _audit_registry_event(self, event: str, payload: dict) -> None:
        """Store listener: every committed registry change becomes an audit entry (or is parked)."""
        from stylegate.governance.audit import registry_kind

        self.outbox.deliver(lambda: self.audit, registry_kind(event), payload)

    def configure_threads(self, *, torch: bool = True) -> None:
        """Apply the CPU thread setting to torch and FAISS; call before building any model.

        ``torch=False`` leaves torch alone (and unimported) for the ONNX embedder's cold start.
        """
        from stylegate.governance.embedder import set_cpu_threads

        set_cpu_threads(self.settings.cpu_threads, torch=torch)

    @cached_property
    def embedder(self) -> ClipEmbedder:
        """The CLIP embedder: ONNX towers where they serve (see ``open_embedder``), else PyTorch."""
        from stylegate.governance.embedder import open_embedder

        self.configure_threads(torch=False)  # open_embedder sets torch's threads if it loads torch
        s = self.settings
        name: str
        pretrained: str | None
        config: Path | None
        from stylegate.styleworld.models import CLIP_MODEL_NAME, SHIPPED_CLIPS, clip_checkpoint_path, clip_config_path

        if s.clip_model is None or (s.clip_model in SHIPPED_CLIPS and s.clip_pretrained is None
                                    and s.clip_model_config is None):
            # A shipped StyleWorld CLIP named alone: its bundled config and checkpoint.
            name = s.clip_model or CLIP_MODEL_NAME
            pretrained, config = str(clip_checkpoint_path(name)), clip_config_path(name)
        else:
            name, pretrained, config = s.clip_model, s.clip_pretrained, s.clip_model_config
        return open_embedder(name, pretrained, device=s.device, model_config=config, backend=s.embedder_backend,
                             cache_dir=s.onnx_cache_dir, threads=s.cpu_threads)

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

    @property
    def index(self) -> StyleIndex:
        """The style index, loaded once and again after the registry changed (see :class:`GateCache`)."""
        return self.gate_cache.current_index()

    def _load_index(self) -> StyleIndex:
        """The style index file, refused if another embedder built it or it lags the registry."""
        from stylegate.registry.style_index import StyleIndex

        path = self.settings.index_path
        identity = self.embedder.identity.to_dict()
        if not path.exists():
            works = self.store.list_works()
            if works:
                raise IndexMismatch(
                    f"no style index at {path} but {len(works)} works are registered; "
                    "run `stylegate index rebuild`"
                )
            return StyleIndex.create(self.embedder.dim, identity, self.settings.index_factory)
        # Another process (a worker of `serve --workers N`, `works add`) saves the index file just
        # before it commits the rows: a file read in between, or a commit between reading the file
        # and the database, disagrees for a moment. Read both again until they agree; a
        # disagreement that outlasts INDEX_SETTLE_S is real.
        deadline = time.monotonic() + INDEX_SETTLE_S
        delay = 0.01
        while True:
            index = StyleIndex.load(path, identity)
            if index.snapshot_hash == self.store.snapshot_hash():
                return index
            if time.monotonic() >= deadline:
                from stylegate.registry.ingest import index_mismatch

                raise index_mismatch(np.asarray(self.store.work_ids(), dtype=np.int64), np.sort(index.ids()))
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def gate(self) -> PolicyGate:
        """The policy gate over the registry as it is now.

        The gate is cached while the registry revision stays the same; any change (an
        artist or alias added, renamed or removed, works added or withdrawn, by this process
        or another) rebuilds it on the next call, so a long-running process never checks
        against a stale registry.
        """
        return self.gate_cache.gate()

    def _build_gate(self, index: StyleIndex) -> PolicyGate:
        from stylegate.governance.gate import PolicyGate

        return PolicyGate(self.policy, self.embedder, self._build_view(index))

    def _refresh_gate(self, gate: PolicyGate, built_at: int) -> int | None:
        """Apply the registry's changes since ``built_at`` to ``gate``'s view (see ``view_delta``).

        None (rebuild) when the change log cannot answer, names an unknown kind of change or
        more than ``REFRESH_MAX_CHANGES`` rows.
        """
        from stylegate.governance.matching.view_delta import apply_changes

        changes = self.store.changes_since(built_at, limit=REFRESH_MAX_CHANGES)
        if changes is None or changes.everything:
            return None
        index = gate.view.index
        if changes.works:
            index = self._caught_up_index(index, changes.to_revision)
        apply_changes(gate.view, self.store, changes, index, self._descriptor_vectors, self.settings.works_dir)
        if not changes.works and self.gate_cache.index is index:
            self.gate_cache.index_revision = changes.to_revision  # no work changed: the index is current
        return changes.to_revision

    def _caught_up_index(self, index: StyleIndex | None, revision: int) -> StyleIndex:
        """The loaded index brought to the saved file's snapshot by the writers' deltas
        (:mod:`~stylegate.registry.index_deltas`), or the file loaded again when they cannot."""
        from stylegate.errors import IndexMismatch
        from stylegate.registry.index_deltas import catch_up
        from stylegate.registry.style_index import StyleIndex

        cache = self.gate_cache
        if index is not None and cache.index is index:
            path = self.settings.index_path
            try:
                target = StyleIndex.read_sidecar(path).get("snapshot_hash")
            except IndexMismatch:
                target = None
            # the count guards against a file ahead of (or behind) the committed rows
            if isinstance(target, str) and catch_up(index, path, target) and len(index) == self.store.count_works():
                cache.index_revision = revision
                return index
            log.debug("the style index deltas cannot bring the loaded index forward; loading the file")
        cache.invalidate_index()  # the writer saved the index with its change
        return cache.current_index()

    def registry_view(self) -> RegistryView:
        """The registry as the gate sees it, without a gate (calibration reads it even when the
        policy's thresholds belong to another embedder)."""
        return self._build_view(self.index)

    def _build_view(self, index: StyleIndex) -> RegistryView:
        from stylegate.governance.matching.view import build_view

        return build_view(self.store, index, self._descriptor_vectors, self.settings.works_dir,
                          neutral_anchor=self.neutral_anchor)

    @cached_property
    def neutral_anchor(self) -> np.ndarray:
        """The description check's baseline: the mean text vector of ordinary prompts."""
        from stylegate.governance.neutral import cached_neutral_anchor

        return cached_neutral_anchor(self.embedder.embed_texts, self.embedder.identity.to_dict(), self.settings.cache_dir)

    def _descriptor_vectors(self, artists: Sequence[Artist]) -> tuple[np.ndarray, np.ndarray]:
        from stylegate.governance.matching.view import cached_descriptor_vectors

        return cached_descriptor_vectors(list(artists), self.embedder, self.settings.cache_dir)

    def work_limits(self) -> WorkLimits:
        from stylegate.registry.validation import WorkLimits

        s = self.settings
        return WorkLimits(max_pixels=s.max_image_pixels, max_bytes=s.max_image_bytes, min_side=s.min_image_side)
