"""Compact code → key indexes for the name matcher at registry scale (a million names).

A name's fuzzy, phonetic and inflection lookups all file a key under many short codes (its
one-deletion neighbourhood, its sound codes, its stems): about forty codes a name. Held as
Python dictionaries that costs several kilobytes a name. Here a code is held only as a
40-bit fingerprint of its hash (a bucket in a directory and 32 low bits) in a sorted numpy
array, next to a 32-bit slot naming the key, eight bytes a code:

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
from bisect import bisect_left
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from stylegate.governance.screening.packedstrings import PackedStrings

log = logging.getLogger(__name__)

_FOLD_MIN = 4096  # overlay entries before a fold is considered


FP_BITS = 40  # bits of a code's hash that are kept (a collision only adds a candidate)
_MIN_DIR_BITS = FP_BITS - 32  # the part below the bucket must fit 32 bits
# Entries a directory bucket holds on average: a lookup compares a bucket's entries in one
# vectorised pass, so eight cost what four do, and the directory is half the size (its
# int32 entries were two bytes a code: 64 MB at a million names).
_PER_BUCKET = 8


def _fp(hashes: Any) -> Any:
    """The top :data:`FP_BITS` bits of int64 hashes, as non-negative int64."""
    np = __import__("numpy")
    return (hashes.view(np.uint64) >> np.uint64(64 - FP_BITS)).astype(np.int64)


def _fp_int(h: int) -> int:
    return (h % (1 << 64)) >> (64 - FP_BITS)


def release_freed_memory() -> None:
    """Give the heap freed by a bulk build back to the system (glibc only; elsewhere a no-op).

    Sorting tens of millions of codes makes temporaries of hundreds of megabytes; glibc keeps
    such freed memory in the process (its mmap threshold rises after the first large free),
    so a built matcher would look several hundred megabytes larger than it is.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, found once (``find_library`` runs a subprocess), or None."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_VALUE_BITS = 64 - FP_BITS  # a fingerprint and a value this narrow share one uint64


def _sorted_by_fp(fps: Any, values: Any) -> tuple[Any, Any]:
    """(fps, values) ordered by fingerprint; the order of one fingerprint's values does not
    matter (lookups gather sets). When every value fits :data:`_VALUE_BITS` bits (a key
    index's slots: up to 16 million keys), both are packed into one uint64 and sorted in
    place, which at tens of millions of codes is about twice as fast as an ``argsort`` and
    its two gathers."""
    np = __import__("numpy")
    if len(values) and 0 <= int(values.min()) and int(values.max()) < 1 << _VALUE_BITS:
        packed = (fps.astype(np.uint64) << np.uint64(_VALUE_BITS)) | values.astype(np.uint64)
        packed.sort()
        out_v = (packed & np.uint64((1 << _VALUE_BITS) - 1)).astype(np.int32)
        packed >>= np.uint64(_VALUE_BITS)
        return packed.view(np.int64), out_v
    order = np.argsort(fps)
    return fps[order], values[order]


class HashMultiMap:
    """A multimap from code hashes to int32 values: sorted arrays, a pending buffer, an overlay.

    Each entry costs eight bytes: the code's hash is cut to :data:`FP_BITS` bits, whose top
    bits pick a bucket in a directory (about eight entries a bucket) and whose other bits are
    held as a uint32 beside the int32 value. A lookup reads the directory entry of its bucket
    and then the few entries in it: two or three cache misses, where a binary search over
    tens of millions of hashes takes a dozen.
    """

    def __init__(self) -> None:
        import numpy as np

        self._np = np
        self._low = np.empty(0, dtype=np.uint32)  # sorted within each bucket
        self._values = np.empty(0, dtype=np.int32)
        self._bits = _MIN_DIR_BITS
        self._dir = np.zeros((1 << self._bits) + 1, dtype=np.int64)  # bucket → first entry
        self._pending_h = array("q")
        self._pending_v = array("i")
        self._overlay: dict[int, list[int]] = {}  # fingerprint → values
        self._overlay_n = 0

    def __len__(self) -> int:
        return len(self._values) + len(self._pending_h) + self._overlay_n

    def add(self, h: int, value: int) -> None:
        self._pending_h.append(h)
        self._pending_v.append(value)

    def add_array(self, hashes: Any, values: Any) -> None:
        """File ``values[k]`` under ``hashes[k]`` (numpy arrays of equal length)."""
        np = self._np
        self._pending_h.frombytes(np.ascontiguousarray(hashes, dtype=np.int64).tobytes())
        self._pending_v.frombytes(np.ascontiguousarray(values, dtype=np.int32).tobytes())

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
            overlay.setdefault(_fp_int(h), []).append(v)
        self._overlay_n += pending
        self._pending_h = array("q")
        self._pending_v = array("i")

    def _fold(self) -> None:
        np = self._np
        big = len(self._pending_h) >= 1 << 20
        parts_h = [self._all_fps(), _fp(np.frombuffer(self._pending_h, dtype=np.int64))]
        parts_v = [self._values, np.frombuffer(self._pending_v, dtype=np.int32)]
        if self._overlay:
            oh = array("q")
            ov = array("i")
            for h, vs in self._overlay.items():
                oh.extend([h] * len(vs))
                ov.extend(vs)
            parts_h.append(np.frombuffer(oh, dtype=np.int64))
            parts_v.append(np.frombuffer(ov, dtype=np.int32))
        self._pending_h = array("q")
        self._pending_v = array("i")
        self._overlay = {}
        self._overlay_n = 0
        fps = np.concatenate(parts_h)
        values = np.concatenate(parts_v)
        del parts_h, parts_v
        fps, values = _sorted_by_fp(fps, values)
        self._set(fps, values)
        del fps, values
        if big:
            release_freed_memory()

    def keep(self, alive: Callable[[Any], Any]) -> None:
        """Drop every entry whose value ``alive`` (vectorised over the value array) refuses."""
        self._settle()
        self._fold()
        mask = alive(self._values)
        self._set(self._all_fps()[mask], self._values[mask])

    def _all_fps(self) -> Any:
        """Every entry's fingerprint, rebuilt from its bucket and its low bits."""
        np = self._np
        buckets = np.repeat(np.arange(len(self._dir) - 1, dtype=np.int64), np.diff(self._dir))
        return (buckets << (FP_BITS - self._bits)) | self._low.astype(np.int64)

    def _set(self, fps: Any, values: Any) -> None:
        """Hold sorted fingerprints ``fps`` as a directory of their top bits and their low bits."""
        np = self._np
        n = len(fps)
        bits = min(FP_BITS, max(_MIN_DIR_BITS, int(np.ceil(np.log2(max(n, 1) / _PER_BUCKET + 1)))))
        shift = FP_BITS - bits
        self._bits = bits
        self._low = (fps & ((1 << shift) - 1)).astype(np.uint32)
        self._values = np.ascontiguousarray(values, dtype=np.int32)
        directory = np.zeros((1 << bits) + 1, dtype=np.int64)  # bucket → first entry, by counting
        np.cumsum(np.bincount(fps >> shift, minlength=1 << bits), out=directory[1:])
        self._dir = directory.astype(np.int32 if n < 2**31 else np.int64)

    def _lookup(self, q: Any) -> tuple[Any, Any]:
        """For int64 hashes ``q``: (query index, value) of each entry filed under one, as
        numpy arrays. Every query's bucket is read in one vectorised pass: the entries of all
        buckets are laid end to end and compared with their query's low bits at once."""
        np = self._np
        if not len(self._values) or not len(q):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
        shift = FP_BITS - self._bits
        fq = _fp(q)
        bucket = fq >> shift
        pos = self._dir[bucket].astype(np.int64)
        lens = self._dir[bucket + 1] - pos
        total = int(lens.sum())
        if not total:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
        owner = np.repeat(np.arange(len(q), dtype=np.int64), lens)
        first = np.cumsum(lens) - lens  # where each query's run starts in the laid-out runs
        p = pos[owner] + (np.arange(total, dtype=np.int64) - first[owner])
        hit = self._low[p] == (fq & ((1 << shift) - 1)).astype(np.uint32)[owner]
        return owner[hit], self._values[p[hit]]

    def overlay_get(self, h: int) -> list[int]:
        """Values filed under hash ``h`` in the overlay (added since the last fold)."""
        return self._overlay.get(_fp_int(h), [])

    def get_many(self, hashes: list[int]) -> list[int]:
        """Every value filed under any of ``hashes`` (possibly repeated)."""
        self._settle()
        out: list[int] = []
        if hashes:
            np = self._np
            q = np.fromiter(hashes, dtype=np.int64, count=len(hashes))
            out.extend(self._lookup(q)[1].tolist())
        if self._overlay:
            for h in hashes:
                out.extend(self.overlay_get(h))
        return out


BulkCodes = Callable[[list[str]], tuple[Any, Any]]


class CodeIndex:
    """Keys filed under the codes ``codes(key)`` yields; reference counted, compact (see module doc).

    With ``bulk`` (keys → numpy (owner, hash) arrays, e.g. ``codehash.hash_words``) a key's
    codes are not made when it is added but hashed in one vectorised batch with every other
    key added since, on :meth:`settle` or the next lookup; such an index is asked with
    :meth:`candidates_hashed`, the queries hashed by the same function.
    """

    def __init__(self, codes: Callable[[str], Iterable[str]] | None = None, bulk: BulkCodes | None = None) -> None:
        if (codes is None) == (bulk is None):
            raise ValueError("a code index takes either codes or bulk codes")
        self._codes = codes
        self._bulk = bulk
        self._unhashed: list[int] = []  # slots added whose codes are not hashed yet (bulk only)
        # Key → slot: keys added in bulk are found by their hash in two sorted arrays (a
        # match is verified against ``_strs``, which also hides a removed key: its slot holds
        # None); keys added one at a time since go to the ``_added`` dictionary.
        # The top 32 bits of the sorted hashes of the keys added in bulk (slot k: the k-th);
        # a match is verified against the slot's key, so the cut only adds a rare candidate.
        self._slot_h = array("i")
        self._added: dict[str, int] = {}  # key → slot, added one at a time
        self._live = 0
        self._refs: dict[str, int] = {}  # references beyond the first, for the few shared keys
        self._strs = PackedStrings()  # slot → key (None once removed; one UTF-8 blob, see ``packedstrings``)
        self._dead = 0
        self._map = HashMultiMap()

    def __len__(self) -> int:
        return self._live

    def __contains__(self, key: str) -> bool:
        return self._find(key) is not None

    def _find(self, key: str) -> int | None:
        """The slot of live ``key``, or None."""
        slot = self._added.get(key)
        if slot is not None:
            return slot
        hashes = self._slot_h
        h = hash(key) >> 32
        i = bisect_left(hashes, h)
        while i < len(hashes) and hashes[i] == h:
            if self._strs[i] == key:
                return i
            i += 1
        return None

    def add(self, key: str) -> None:
        if self._find(key) is not None:
            self._refs[key] = self._refs.get(key, 1) + 1
            return
        slot = len(self._strs)
        self._strs.append(key)
        self._added[key] = slot
        self._live += 1
        if self._codes is not None:
            self._map.add_many(map(hash, self._codes(key)), slot)
        else:
            self._unhashed.append(slot)

    def add_many(self, keys: list[str]) -> None:
        """:meth:`add` of each of ``keys`` in turn, the bookkeeping done per distinct key in numpy.

        Used by a build; the index must be empty (otherwise, or on a hash collision within
        ``keys``, the keys are added one at a time).
        """
        np = self._map._np
        if not keys:
            return
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        uniq, first, counts = np.unique(hashes, return_index=True, return_counts=True)
        if self._strs or not self._same_under_each_hash(keys, hashes, uniq, first, counts):
            for key in keys:
                self.add(key)
            return
        shared = counts > 1
        for row, n in zip(first[shared].tolist(), counts[shared].tolist()):
            self._refs[keys[row]] = n
        # Slot k is the key of the k-th smallest hash (np.unique sorts), so the sorted hashes
        # alone find a key's slot: its position among them.
        distinct = [keys[i] for i in first.tolist()]
        self._strs = PackedStrings(distinct)
        self._live = len(distinct)
        self._slot_h = array("i", (uniq >> 32).astype(np.int32).tobytes())
        codes = self._codes
        if codes is not None:  # every key's codes hashed into one list, filed in one batch
            flat: list[int] = []
            counts = array("q")
            for key in distinct:
                n_before = len(flat)
                flat.extend(map(hash, codes(key)))
                counts.append(len(flat) - n_before)
            self._map.add_array(
                np.fromiter(flat, dtype=np.int64, count=len(flat)),
                np.repeat(np.arange(len(distinct), dtype=np.int32), np.frombuffer(counts, dtype=np.int64)),
            )
            del flat
        else:
            self._hash_keys(distinct, np.arange(len(distinct), dtype=np.int32))

    @staticmethod
    def _same_under_each_hash(keys: list[str], hashes: Any, uniq: Any, first: Any, counts: Any) -> bool:
        """Whether every key repeats the first key of its hash (no two distinct keys share one)."""
        np = __import__("numpy")
        if not (counts > 1).any():
            return True
        group = np.searchsorted(uniq, hashes)
        repeat = np.flatnonzero(first[group] != np.arange(len(keys)))
        lead = first[group[repeat]]
        return all(keys[a] == keys[b] for a, b in zip(repeat.tolist(), lead.tolist()))

    def _hash_pending(self) -> None:
        """Hash the codes of the keys added since the last call, in one batch (bulk indexes)."""
        if not self._unhashed:
            return
        assert self._bulk is not None
        strs = self._strs
        slots: list[int] = []
        keys: list[str] = []
        for s in self._unhashed:
            key = strs[s]
            if key is not None:
                slots.append(s)
                keys.append(key)
        self._unhashed = []
        if slots:
            np = self._map._np
            self._hash_keys(keys, np.asarray(slots, dtype=np.int32))

    def _hash_keys(self, keys: list[str], slots: Any) -> None:
        """File the bulk codes of ``keys`` (their slots ``slots``) in the map."""
        assert self._bulk is not None
        owner, hashes = self._bulk(keys)
        self._map.add_array(hashes, slots[owner])

    def discard(self, key: str) -> None:
        refs = self._refs.get(key)
        if refs is not None:
            if refs > 2:
                self._refs[key] = refs - 1
            else:
                del self._refs[key]
            return
        slot = self._find(key)
        if slot is None:
            return
        self._added.pop(key, None)
        self._live -= 1
        self._strs[slot] = None
        self._dead += 1
        if self._dead > 4096 and self._dead * 4 > len(self._strs):
            self._compact()

    def _compact(self) -> None:
        """Forget removed keys' codes (amortised: after a quarter of the slots died)."""
        self._hash_pending()
        np = self._map._np
        alive = np.frombuffer(bytes(self._strs.alive()), dtype=np.uint8).astype(bool)
        self._map.keep(lambda values: alive[values])
        self._dead = 0

    def settle(self) -> None:
        self._hash_pending()
        self._map._settle()

    def candidates_hashed(self, queries: list[str], owner: Any, hashes: Any) -> dict[str, set[str]]:
        """Per query, the live keys filed under any of its code hashes (``hashes[k]`` belongs to
        ``queries[owner[k]]``), in one vectorised lookup."""
        out: dict[str, set[str]] = {q: set() for q in queries}
        if not queries or not self._live:
            return out
        self.settle()
        m = self._map
        strs = self._strs
        owner_list = owner.tolist()
        found_q, found_v = m._lookup(hashes)
        for k, slot in zip(found_q.tolist(), found_v.tolist()):
            key = strs[slot]
            if key is not None:
                out[queries[owner_list[k]]].add(key)
        if m._overlay:
            for h, o in zip(hashes.tolist(), owner_list):
                for slot in m.overlay_get(h):
                    key = strs[slot]
                    if key is not None:
                        out[queries[o]].add(key)
        return out

    def candidates(self, codes: Iterable[str]) -> set[str]:
        """Live keys filed under any of ``codes``."""
        self._hash_pending()
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
        if not queries or not self._live:
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
        qh = np.fromiter(flat, dtype=np.int64, count=len(flat))
        found_q, found_v = m._lookup(qh)
        for k, slot in zip(found_q.tolist(), found_v.tolist()):
            key = strs[slot]
            if key is not None:
                out[owner[k]].add(key)
        if m._overlay:
            for h, q in zip(flat, owner):
                for slot in m.overlay_get(h):
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

    def __init__(self, codes: Callable[[str], Iterable[str]] | None = None, bulk: BulkCodes | None = None) -> None:
        self._index = CodeIndex(codes, bulk)
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

    def add_many(self, keys: list[str]) -> None:
        """:meth:`add` each of ``keys`` (a build: the distinct keys' bookkeeping done at once)."""
        taken = [k for k in keys if self.accepts(k)]
        if not taken:
            return
        lens = [len(k) for k in taken]
        first = len(self._index) == 0
        self._index.add_many(taken)
        self.min_len = min(lens) if first else min(self.min_len, min(lens))
        self.max_len = max(self.max_len, max(lens))

    def discard(self, key: str) -> None:
        """Drop one reference to ``key``; the key leaves the index with its last reference."""
        self._index.discard(key)

    def settle(self) -> None:
        """Sort what was added in bulk into the compact arrays (otherwise done on first lookup)."""
        self._index.settle()

    def may_match(self, length: int) -> bool:
        """Whether a query of ``length`` characters can be within :attr:`slack` letters of some key."""
        return len(self._index) > 0 and self.min_len - self.slack <= length <= self.max_len + self.slack
