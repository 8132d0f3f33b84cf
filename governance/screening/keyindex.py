"""Compact code → key indexes for the name matcher at registry scale (a million names).

A name's fuzzy, phonetic and inflection lookups all file a key under many short codes (its
one-deletion neighbourhood, its sound codes, its stems): about forty codes a name. Held as
Python dictionaries that costs several kilobytes a name. Here a code is held only as its
64-bit hash in a sorted numpy array, next to a 32-bit slot naming the key:

- codes added in bulk (building the matcher) are appended to flat arrays and sorted once,
  on the first lookup;
- codes added later (one artist registered on a live gate) go to a small dictionary
  overlay, folded into the sorted arrays only once it holds an eighth of them;
- a removed key's slot is emptied; its codes stay until the next fold and are skipped.

A lookup hashes all its codes, searches them in one vectorised ``searchsorted`` and returns
the live keys filed under any of them. A hash collision only adds a candidate, which the
caller verifies (edit distance, stem check), so no lookup can return a wrong match.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

_FOLD_MIN = 4096  # overlay entries before a fold is considered


class HashMultiMap:
    """A multimap from int64 hashes to int32 values: sorted arrays, a pending buffer, an overlay."""

    def __init__(self) -> None:
        import numpy as np

        self._np = np
        self._uniq = np.empty(0, dtype=np.int64)  # sorted distinct hashes
        self._starts = np.zeros(1, dtype=np.int64)  # values of _uniq[k] are _values[_starts[k]:_starts[k + 1]]
        self._values = np.empty(0, dtype=np.int32)
        self._dir = np.zeros(2, dtype=np.int64)  # bucket (top hash bits) → first index in _uniq
        self._shift = 63
        self._sign = np.uint64(1 << 63)  # flipping the sign bit orders unsigned top bits like the signed hashes
        self._pending_h = array("q")
        self._pending_v = array("i")
        self._overlay: dict[int, list[int]] = {}
        self._overlay_n = 0

    def __len__(self) -> int:
        return len(self._values) + len(self._pending_h) + self._overlay_n

    def add(self, h: int, value: int) -> None:
        self._pending_h.append(h)
        self._pending_v.append(value)

    def add_many(self, hashes: Iterable[int], value: int) -> None:
        """File ``value`` under each of ``hashes`` (a repeated hash only repeats a candidate)."""
        n = len(self._pending_h)
        self._pending_h.extend(hashes)
        self._pending_v.extend(array("i", (value,)) * (len(self._pending_h) - n))

    def _settle(self) -> None:
        """Sort a large pending batch into the arrays; put a small one in the overlay."""
        pending = len(self._pending_h)
        if not pending:
            return
        if pending * 8 >= len(self._values) or pending + self._overlay_n >= max(_FOLD_MIN, len(self._values) // 8):
            self._fold()
            return
        overlay = self._overlay
        for h, v in zip(self._pending_h, self._pending_v):
            overlay.setdefault(h, []).append(v)
        self._overlay_n += pending
        self._pending_h = array("q")
        self._pending_v = array("i")

    def _fold(self) -> None:
        np = self._np
        parts_h = [self._all_hashes(), np.frombuffer(self._pending_h, dtype=np.int64)]
        parts_v = [self._values, np.frombuffer(self._pending_v, dtype=np.int32)]
        if self._overlay:
            oh = array("q")
            ov = array("i")
            for h, vs in self._overlay.items():
                oh.extend([h] * len(vs))
                ov.extend(vs)
            parts_h.append(np.frombuffer(oh, dtype=np.int64))
            parts_v.append(np.frombuffer(ov, dtype=np.int32))
        hashes = np.concatenate(parts_h)
        values = np.concatenate(parts_v)
        order = np.argsort(hashes, kind="stable")
        self._set(hashes[order], values[order])
        self._pending_h = array("q")
        self._pending_v = array("i")
        self._overlay = {}
        self._overlay_n = 0

    def keep(self, alive: Callable[[Any], Any]) -> None:
        """Drop every entry whose value ``alive`` (vectorised over the value array) refuses."""
        self._settle()
        self._fold()
        mask = alive(self._values)
        self._set(self._all_hashes()[mask], self._values[mask])

    def _all_hashes(self) -> Any:
        np = self._np
        return np.repeat(self._uniq, np.diff(self._starts))

    def _set(self, hashes: Any, values: Any) -> None:
        """Hold sorted ``hashes`` as distinct hashes with value ranges, and index their top bits.

        A lookup reads the directory entry of its bucket and then the few distinct hashes in
        it (about four): two or three cache misses, where a binary search over tens of
        millions of hashes takes a dozen.
        """
        np = self._np
        n = len(hashes)
        if n:
            first = np.concatenate(([True], hashes[1:] != hashes[:-1]))
            at = np.flatnonzero(first)
            self._uniq = hashes[at]
            self._starts = np.append(at, n).astype(np.int32 if n < 2**31 else np.int64)
        else:
            self._uniq = np.empty(0, dtype=np.int64)
            self._starts = np.zeros(1, dtype=np.int64)
        self._values = values
        bits = max(1, int(np.ceil(np.log2(max(len(self._uniq), 1) / 4 + 1))))
        self._shift = 64 - bits
        buckets = ((self._uniq.view(np.uint64) ^ self._sign) >> np.uint64(self._shift)).astype(np.int64)
        self._dir = np.searchsorted(buckets, np.arange((1 << bits) + 1, dtype=np.int64)).astype(
            np.int32 if len(self._uniq) < 2**31 else np.int64
        )

    def _lookup(self, q: Any) -> tuple[list[int], list[int], list[int]]:
        """For int64 queries ``q``: (query index, first, end) of the value range of each found one."""
        np = self._np
        if not len(self._uniq):
            return [], [], []
        bucket = ((q.view(np.uint64) ^ self._sign) >> np.uint64(self._shift)).astype(np.int64)
        pos = self._dir[bucket]
        end = self._dir[bucket + 1]
        active = np.flatnonzero(pos < end)
        found_q: list[Any] = []
        found_u: list[Any] = []
        uniq = self._uniq
        while len(active):
            p = pos[active]
            here = uniq[p]
            want = q[active]
            hit = here == want
            if hit.any():
                found_q.append(active[hit])
                found_u.append(p[hit])
            # distinct hashes are sorted within a bucket: stop once past the query
            go_on = (here < want) & (p + 1 < end[active])
            active = active[go_on]
            pos[active] += 1
        if not found_q:
            return [], [], []
        fq = np.concatenate(found_q)
        fu = np.concatenate(found_u)
        return fq.tolist(), self._starts[fu].tolist(), self._starts[fu + 1].tolist()

    def get_many(self, hashes: list[int]) -> list[int]:
        """Every value filed under any of ``hashes`` (possibly repeated)."""
        self._settle()
        out: list[int] = []
        if hashes:
            np = self._np
            q = np.fromiter(hashes, dtype=np.int64, count=len(hashes))
            values = self._values
            for _, lo, hi in zip(*self._lookup(q)):
                out.extend(values[lo:hi].tolist())
        if self._overlay:
            get = self._overlay.get
            for h in hashes:
                held = get(h)
                if held:
                    out.extend(held)
        return out


class CodeIndex:
    """Keys filed under the codes ``codes(key)`` yields; reference counted, compact (see module doc)."""

    def __init__(self, codes: Callable[[str], Iterable[str]]) -> None:
        self._codes = codes
        self._slot: dict[str, int] = {}  # live key → its slot
        self._refs: dict[str, int] = {}  # references beyond the first, for the few shared keys
        self._strs: list[str | None] = []  # slot → key (None once removed)
        self._dead = 0
        self._map = HashMultiMap()

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: str) -> bool:
        return key in self._slot

    def add(self, key: str) -> None:
        if key in self._slot:
            self._refs[key] = self._refs.get(key, 1) + 1
            return
        slot = len(self._strs)
        self._strs.append(key)
        self._slot[key] = slot
        self._map.add_many(map(hash, self._codes(key)), slot)

    def discard(self, key: str) -> None:
        refs = self._refs.get(key)
        if refs is not None:
            if refs > 2:
                self._refs[key] = refs - 1
            else:
                del self._refs[key]
            return
        slot = self._slot.pop(key, None)
        if slot is None:
            return
        self._strs[slot] = None
        self._dead += 1
        if self._dead > 4096 and self._dead * 4 > len(self._strs):
            self._compact()

    def _compact(self) -> None:
        """Forget removed keys' codes (amortised: after a quarter of the slots died)."""
        np = self._map._np
        alive = np.fromiter((s is not None for s in self._strs), dtype=bool, count=len(self._strs))
        self._map.keep(lambda values: alive[values])
        self._dead = 0

    def settle(self) -> None:
        self._map._settle()

    def candidates(self, codes: Iterable[str]) -> set[str]:
        """Live keys filed under any of ``codes``."""
        strs = self._strs
        out: set[str] = set()
        for slot in self._map.get_many([hash(c) for c in codes]):
            key = strs[slot]
            if key is not None:
                out.add(key)
        return out

    def candidates_many(self, queries: dict[str, list[str]]) -> dict[str, set[str]]:
        """Per query, the live keys filed under any of its codes, in one vectorised lookup."""
        out: dict[str, set[str]] = {q: set() for q in queries}
        if not queries or not self._slot:
            return out
        flat: list[int] = []
        owner: list[str] = []
        for q, codes in queries.items():
            hs = {hash(c) for c in codes}
            flat.extend(hs)
            owner.extend([q] * len(hs))
        m = self._map
        m._settle()
        strs = self._strs
        np = m._np
        values = m._values
        qh = np.fromiter(flat, dtype=np.int64, count=len(flat))
        for k, lo, hi in zip(*m._lookup(qh)):
            target = out[owner[k]]
            for slot in values[lo:hi].tolist():
                key = strs[slot]
                if key is not None:
                    target.add(key)
        if m._overlay:
            get = m._overlay.get
            for h, q in zip(flat, owner):
                for slot in get(h, ()):
                    key = strs[slot]
                    if key is not None:
                        out[q].add(key)
        return out


class FiledKeys:
    """Registered keys filed under their codes, with the shortest and longest key's length.

    The bookkeeping the fuzzy, phonetic and inflection lookups share: reference-counted
    add and discard, a bulk settle, and :meth:`may_match`, a length window that lets a query
    skip the lookup when no key is within ``slack`` letters of its length. Subclasses say
    which keys they take (:meth:`accepts`) and how a query's codes are found.
    """

    slack = 0  # letters a matching query's length may differ from a key's

    def __init__(self, codes: Callable[[str], Iterable[str]]) -> None:
        self._index = CodeIndex(codes)
        self.min_len = 0
        self.max_len = 0

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def accepts(self, key: str) -> bool:
        """Whether ``key`` is one this index files (too short a key would only match other words)."""
        return True

    def add(self, key: str) -> bool:
        """Index ``key`` (reference counted); False when :meth:`accepts` refuses it."""
        if not self.accepts(key):
            return False
        first = len(self._index) == 0
        self._index.add(key)
        self.min_len = len(key) if first else min(self.min_len, len(key))
        self.max_len = max(self.max_len, len(key))
        return True

    def discard(self, key: str) -> None:
        """Drop one reference to ``key``; the key leaves the index with its last reference."""
        self._index.discard(key)

    def settle(self) -> None:
        """Sort what was added in bulk into the compact arrays (otherwise done on first lookup)."""
        self._index.settle()

    def may_match(self, length: int) -> bool:
        """Whether a query of ``length`` characters can be within :attr:`slack` letters of some key."""
        return len(self._index) > 0 and self.min_len - self.slack <= length <= self.max_len + self.slack
