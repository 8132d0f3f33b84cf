"""The name matcher's table of joined keys, packed for a million names.

A dictionary from each joined key to its packed entries costs about a hundred bytes a key
(the table slot, the key's string, an int object per entry), most of the matcher at a
million names. Here the rows filed by a build are two parallel sorted ``array('q')``: the
key's hash (Python's own string hash, cached on the string and stable within the process;
the table is never saved) and the entry's packed code, sixteen bytes a row, found with
``bisect``. Rows added after the build (one artist registered on a live gate) go to a small
dictionary overlay keyed by the key itself, so adding is O(1); a new build holds them all in
the arrays again.

The arrays do not hold the keys, so a row found by hash may belong to another key with the
same 64-bit hash; the caller verifies a row against its label (``NameMatcher`` checks that
the key is one of the label's keys). Rows are never deleted from the arrays: a row whose
label was removed is skipped by the caller (label ids are never reused).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from stylegate.governance.screening.hashfilter import HashFilter


class HashRows:
    """Rows of (a key's hash, a code): built rows in two sorted ``array('q')``, rows filed
    after the build in a dictionary overlay keyed by the key itself.

    The shared store of :class:`KeyTable` and ``ownertable.OwnerTable``; each decides how a
    build's rows are settled and how rows are read.
    """

    __slots__ = ("_hashes", "_codes", "_pending_keys", "_pending_codes", "_overlay", "_filter")

    def __init__(self) -> None:
        self._hashes = array("q")  # sorted key hashes of the built rows
        self._codes = array("q")  # their codes, in the same order
        self._pending_keys: list[str] = []  # rows of the build under way, in the order filed
        self._pending_codes = array("q")
        self._overlay: dict[str, list[int]] = {}  # key → codes filed since the build
        self._filter = HashFilter()  # a quick "not built" for most lookups (see ``hashfilter``)

    def file_bulk(self, key: str, code: int) -> None:
        """File a row during a build; the subclass's ``settle`` sorts it in."""
        self._pending_keys.append(key)
        self._pending_codes.append(code)

    def _sort_in(self, hashes: Any, codes: Any) -> None:
        """Merge new rows (numpy int64 hashes and codes, in filing order) with the built ones,
        sorted by hash; rows of one key stay in filing order."""
        import numpy as np

        if len(self._hashes):  # a second bulk load: merge with what is held
            hashes = np.concatenate([np.frombuffer(self._hashes, dtype=np.int64), hashes])
            codes = np.concatenate([np.frombuffer(self._codes, dtype=np.int64), codes])
        by_hash = np.argsort(hashes, kind="stable")
        self._hashes = array("q", hashes[by_hash].tobytes())
        self._codes = array("q", codes[by_hash].tobytes())
        self._filter = HashFilter(hashes)

    def add(self, key: str, code: int) -> None:
        """File a row after the build (the overlay)."""
        self._overlay.setdefault(key, []).append(code)

    def drop_added(self, key: str, codes: set[int]) -> None:
        """Forget the overlay's rows of ``key`` whose code is in ``codes``."""
        held = self._overlay.get(key)
        if held is None:
            return
        left = [c for c in held if c not in codes]
        if left:
            self._overlay[key] = left
        else:
            del self._overlay[key]

    def nbytes(self) -> int:
        """Bytes held by the built arrays."""
        return self._hashes.itemsize * (len(self._hashes) + len(self._codes)) + self._filter.nbytes()


class KeyTable(HashRows):
    """Joined key → packed entry codes: bulk rows in sorted hash arrays, later rows in an overlay."""

    __slots__ = ()

    def settle(self, owner: Callable[[Any], Any]) -> tuple[list[str], Any]:
        """Sort the build's rows into the arrays; returns the (keys, codes) kept, in filing order.

        Of rows with one key and one ``owner(codes)`` (vectorised: the artist of each code)
        only the first filed is kept, as :meth:`NameMatcher._register` keeps one entry per
        artist and key.
        """
        import numpy as np

        keys, self._pending_keys = self._pending_keys, []
        codes = np.frombuffer(self._pending_codes, dtype=np.int64).copy()
        self._pending_codes = array("q")
        if not keys:
            return [], codes
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        row = np.arange(len(keys), dtype=np.int64)
        who = np.asarray(owner(codes), dtype=np.int64)
        order = np.lexsort((row, who, hashes))  # by hash, then owner, then filing order
        repeat = np.zeros(len(keys), dtype=bool)
        repeat[1:] = (hashes[order][1:] == hashes[order][:-1]) & (who[order][1:] == who[order][:-1])
        kept = np.sort(order[~repeat])  # filing order
        del order, repeat, who
        self._sort_in(hashes[kept], codes[kept])
        kept_keys = [keys[i] for i in kept.tolist()]
        return kept_keys, codes[kept]

    def distinct(self) -> int:
        """Distinct hashes among the built rows (the built keys, but for a hash collision)."""
        import numpy as np

        if not len(self._hashes):
            return 0
        h = np.frombuffer(self._hashes, dtype=np.int64)
        return int(1 + np.count_nonzero(h[1:] != h[:-1]))

    def built(self, key: str) -> list[int]:
        """Codes of the built rows under ``key``'s hash (unverified: see the module doc)."""
        h = hash(key)
        if h not in self._filter:
            return []
        hashes = self._hashes
        lo = bisect_left(hashes, h)
        if lo == len(hashes) or hashes[lo] != h:
            return []
        return self._codes[lo : bisect_right(hashes, h, lo)].tolist()

    def present(self, keys: Sequence[str]) -> list[bool]:
        """For each of ``keys``, whether any row may be filed under it: a built row with its
        hash (unverified, like :meth:`built`) or an added row. One vectorised search for all."""
        import numpy as np

        if not keys:
            return []
        overlay = self._overlay
        out = [k in overlay for k in keys] if overlay else [False] * len(keys)
        if len(self._hashes):
            held = np.frombuffer(self._hashes, dtype=np.int64)
            asked = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
            at = np.searchsorted(held, asked)
            np.minimum(at, len(held) - 1, out=at)
            for k in np.flatnonzero(held[at] == asked).tolist():
                out[k] = True
        return out

    def added(self, key: str) -> list[int]:
        """Codes filed under ``key`` since the build."""
        return self._overlay.get(key, [])
