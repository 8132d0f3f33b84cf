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

from stylegate.governance.screening.keytable import HashRows


class OwnerTable(HashRows):
    """Word → codes: bulk rows in sorted hash arrays, later rows in an overlay keyed by the word."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return bool(self._hashes) or bool(self._overlay) or bool(self._pending_keys)

    def settle(self) -> None:
        """Sort the build's rows into the arrays (rows of one word stay in filing order)."""
        import numpy as np

        keys, self._pending_keys = self._pending_keys, []
        if not keys:
            return
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        del keys
        codes = np.frombuffer(self._pending_codes, dtype=np.int64)
        self._sort_in(hashes, codes)
        self._pending_codes = array("q")

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
