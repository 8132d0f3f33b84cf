"""The style index and the policy gate of one process, kept while the registry stays the same.

A long-running process (the service, a notebook) must see a registry change made by any
process on its next check. Both caches are therefore keyed by the registry revision. A gate
built at an older revision is first brought forward by ``refresh_gate`` (the workspace
applies the registry's change log to the gate's view: only the artists that changed), and
rebuilt when that cannot be done (no refresher, the log cannot answer, too many changes, or
the refresh failed); a rebuilt gate is built over the index loaded again from disk (the
writer saved a new one with its change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.gate import PolicyGate
    from stylegate.registry.style_index import StyleIndex

log = logging.getLogger(__name__)


class GateCache:
    """The loaded style index and the gate over it, each with the registry revision it saw.

    ``revision`` reads the registry's current revision, ``load_index`` loads (and checks) the
    index file, ``build_gate`` builds a gate over a loaded index.
    """

    def __init__(
        self,
        revision: Callable[[], int],
        load_index: Callable[[], StyleIndex],
        build_gate: Callable[[StyleIndex], PolicyGate],
        refresh_gate: Callable[[PolicyGate, int], int | None] | None = None,
    ) -> None:
        self._revision = revision
        self._load_index = load_index
        self._build_gate = build_gate
        # refresh_gate(gate, built_at) updates the gate in place and returns the revision it
        # now reflects, or None when only a rebuild will do.
        self._refresh_gate = refresh_gate
        self.refreshes = 0  # gates brought forward by a change set
        self.rebuilds = 0  # gates built (the first one included)
        self.index_loads = 0  # index files read (a works change caught up by its delta reads none)
        self.index: StyleIndex | None = None  # None until loaded, and after invalidate_index()
        self.index_revision: int | None = None  # the registry revision the index was checked against
        self._gate: PolicyGate | None = None
        self._gate_revision: int | None = None

    def current_index(self) -> StyleIndex:
        """The loaded index, loading it on first use (or after it was invalidated)."""
        if self.index is None:
            revision = self._revision()
            self.index = self._load_index()
            self.index_revision = revision
            self.index_loads += 1
        return self.index

    def invalidate_index(self) -> None:
        """Forget the loaded index; the next use loads the file again."""
        self.index = None
        self.index_revision = None

    def drop_stale_index(self) -> None:
        """Forget the loaded index if the registry changed since it was loaded."""
        if self.index is not None and self.index_revision != self._revision():
            log.debug("the registry changed since the style index was loaded; loading it again")
            self.invalidate_index()

    def replace_index(self, index: StyleIndex) -> None:
        """Use ``index`` (just rebuilt and saved) from now on; the gate is rebuilt over it."""
        self.index = index
        self.index_revision = self._revision()
        self._gate = None
        self._gate_revision = None

    def gate(self) -> PolicyGate:
        """The gate over the registry as it is now, reused while the revision stays the same."""
        revision = self._revision()
        if self._gate is not None and self._gate_revision == revision:
            return self._gate
        if self._gate is not None and self._gate_revision is not None and self._refresh_gate is not None:
            reached = self._refresh(self._gate, self._gate_revision)
            if reached is not None:
                self._gate_revision = reached
                self.refreshes += 1
                return self._gate
        if self._gate is not None:
            self.invalidate_index()  # another writer may have saved a new index
        self._gate = None  # a gate a failed refresh left half-updated is never served
        gate = self._build_gate(self.current_index())
        self._gate, self._gate_revision = gate, revision
        self.rebuilds += 1
        return gate

    def _refresh(self, gate: PolicyGate, built_at: int) -> int | None:
        assert self._refresh_gate is not None
        try:
            return self._refresh_gate(gate, built_at)
        except Exception:  # noqa: BLE001 - the rebuild that follows either succeeds or raises itself
            log.exception("applying the registry's changes to the running gate failed; rebuilding it")
            return None
