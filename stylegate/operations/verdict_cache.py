"""Statement verdicts remembered between portal page loads.

An issued statement is immutable, so its verdict (signature, every inclusion proof, the
arithmetic, consistency with the log's latest checkpoint, the recount) is a function of
what the check read: the file's bytes, the checkpoint it closes on, the audit public key it
was checked with and the later checkpoint its consistency was proved to. The key is exactly
those, so a tampered file (new bytes, new hash), a rotated key or a newly signed checkpoint
is verified afresh; an unchanged statement is not re-proved on every dashboard load. The
recount reads only entries timed before the period's cutoff, which an append-only log,
stamped at append, does not add to. The cache is per process and bounded (least recently
used first out); `stylegate statements verify` never uses it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

VerdictKey = tuple[Hashable, ...]


def _sha256(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def verdict_key(home: str, raw: bytes, doc: Mapping[str, Any], public_key_pem: bytes | None,
                latest_note: str | None) -> VerdictKey:
    """The cache key of one statement file's verdict (see the module doc)."""
    found = doc.get("checkpoint")
    checkpoint: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return (home, _sha256(raw), str(checkpoint.get("size")), str(checkpoint.get("root")), _sha256(public_key_pem),
            _sha256(latest_note))


class VerdictCache:
    """A thread-safe LRU of verdicts (plain dicts, copied in and out)."""

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[VerdictKey, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: VerdictKey, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return dict(found)
        verdict = compute()  # outside the lock: two first loads may both verify, never block each other
        with self._lock:
            self.misses += 1
            self._items[key] = dict(verdict)
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return dict(verdict)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


VERDICTS = VerdictCache()
