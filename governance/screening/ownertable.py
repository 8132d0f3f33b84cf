"""Word → the labels filing it (surnames, given names), packed for a million names.

The matcher asks of a surname whether any artist files it and whether exactly one does, and
of a given name which artists file it. As dictionaries of a million words (with a dictionary
or set of owners for each shared word) that cost 190 MB at a million names. Here, as in
``keytable``, the rows a build files are two sorted ``array('q')``: the word's hash
(Python's string hash) and a code naming the label, sixteen bytes a row, in filing order
within one word; rows filed after the build go to a dictionary overlay. A row found by hash
is unverified (another word may share the hash) and its label may have been removed since:
the caller checks each row it reads (:meth:`OwnerTable.rows` yields them lazily, so a word
filed by thousands of artists costs only the rows read before the answer is known).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator

from stylegate.governance.screening.hashfilter import HashFilter


class OwnerTable:
    """Word → codes: bulk rows in sorted hash arrays, later rows in an overlay keyed by the word."""

    __slots__ = ("_hashes", "_codes", "_pending_keys", "_pending_codes", "_overlay", "_filter")

    def __init__(self) -> None:
        self._hashes = array("q")
        self._codes = array("q")
        self._pending_keys: list[str] = []
        self._pending_codes = array("q")
        self._overlay: dict[str, list[int]] = {}
        self._filter = HashFilter()  # a quick "not built" for most lookups (see ``hashfilter``)

    def __bool__(self) -> bool:
        return bool(self._hashes) or bool(self._overlay) or bool(self._pending_keys)

    def file_bulk(self, key: str, code: int) -> None:
        """File a row during a build; :meth:`settle` sorts it in."""
        self._pending_keys.append(key)
        self._pending_codes.append(code)

    def settle(self) -> None:
        """Sort the build's rows into the arrays (rows of one word stay in filing order)."""
        import numpy as np

        keys, self._pending_keys = self._pending_keys, []
        if not keys:
            return
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        del keys
        codes = np.frombuffer(self._pending_codes, dtype=np.int64)
        if len(self._hashes):
            hashes = np.concatenate([np.frombuffer(self._hashes, dtype=np.int64), hashes])
            codes = np.concatenate([np.frombuffer(self._codes, dtype=np.int64), codes])
        order = np.argsort(hashes, kind="stable")
        self._hashes = array("q", hashes[order].tobytes())
        self._codes = array("q", codes[order].tobytes())
        self._filter = HashFilter(hashes)
        self._pending_codes = array("q")

    def add(self, key: str, code: int) -> None:
        """File a row after the build (the overlay)."""
        self._overlay.setdefault(key, []).append(code)

    def maybe(self, key: str) -> bool:
        """False when no row is filed under ``key`` (a quick answer for most lookups); True
        when one may be (read :meth:`rows`)."""
        return hash(key) in self._filter or key in self._overlay

    def rows(self, key: str) -> Iterator[int]:
        """The codes filed under ``key``'s hash in the build, then those filed since (unverified)."""
        h = hash(key)
        if h in self._filter:
            hashes = self._hashes
            i = bisect_left(hashes, h)
            codes = self._codes
            n = len(hashes)
            while i < n and hashes[i] == h:
                yield codes[i]
                i += 1
        added = self._overlay.get(key)
        if added:
            yield from added

    def drop_added(self, key: str, gone: set[int]) -> None:
        """Forget the overlay's rows of ``key`` whose code is in ``gone``."""
        held = self._overlay.get(key)
        if held is None:
            return
        left = [c for c in held if c not in gone]
        if left:
            self._overlay[key] = left
        else:
            del self._overlay[key]

    def nbytes(self) -> int:
        """Bytes held by the built arrays."""
        return self._hashes.itemsize * (len(self._hashes) + len(self._codes)) + self._filter.nbytes()
