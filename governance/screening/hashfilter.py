"""A quick "certainly not" for the packed tables' lookups: a two-probe Bloom filter over hashes.

The name matcher looks every window of a prompt up in its packed tables (joined keys,
surnames, given names); nearly all of those lookups find nothing. In a sorted
``array('q')`` of a million hashes a miss costs a ``bisect`` of twenty steps, each making a
Python int, about 3 µs; here it costs two bit tests, a fifth of a microsecond. Two bits a
hash (from its low and its high half) in a table of twelve to twenty-four bits a hash:
about one lookup in a hundred that should miss goes on to the ``bisect``, which answers it.
"""

from __future__ import annotations

from typing import Any

_BITS_PER_HASH = 12


class HashFilter:
    """Whether an int64 hash may be among those the filter was built from (no false "no")."""

    __slots__ = ("_bits", "_mask")

    def __init__(self, hashes: Any = None) -> None:
        """``hashes``: a numpy int64 array (repeats allowed), or None for an empty filter."""
        import numpy as np

        n = 0 if hashes is None else len(hashes)
        if not n:
            self._bits = b""
            self._mask = -1  # empty: nothing may be present
            return
        size = max(10, int(np.ceil(np.log2(n * _BITS_PER_HASH))))
        mask = (1 << size) - 1
        h = np.asarray(hashes, dtype=np.int64)
        table = np.zeros(1 << size, dtype=bool)
        table[h & mask] = True
        table[(h >> 32) & mask] = True
        self._bits = np.packbits(table, bitorder="little").tobytes()
        self._mask = mask

    def __contains__(self, h: int) -> bool:
        mask = self._mask
        if mask < 0:
            return False
        bits = self._bits
        a = h & mask
        if not bits[a >> 3] >> (a & 7) & 1:
            return False
        b = (h >> 32) & mask
        return bool(bits[b >> 3] >> (b & 7) & 1)

    def nbytes(self) -> int:
        return len(self._bits)
