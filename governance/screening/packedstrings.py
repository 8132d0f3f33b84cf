"""A list of strings held as one UTF-8 blob and offsets: the matcher's labels and keys.

At a million names the matcher holds several million short strings (its labels, and the keys
its fuzzy, phonetic and inflection indexes file); as Python objects each costs about sixty
bytes beside its letters and an eight-byte pointer, 220 MB in all. Here the strings a build
holds are one ``bytes`` blob and an ``array('q')`` of offsets, a string's letters and eight
bytes; an item is decoded when it is read (a hit, a candidate to verify, a removal), which
the lookups do for a handful of items a prompt. Strings appended after the build go to a
plain list until the next :meth:`PackedStrings.pack`. An item can be emptied (set to None,
a removed label or key), never changed to another string.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

_FLIP = bytes([1, 0]) + bytes(254)  # removal flag → held flag


class PackedStrings(Sequence[str | None]):
    """``list[str | None]``, compact: packed items, a tail of items appended since, removals."""

    __slots__ = ("_blob", "_offs", "_gone", "_tail")

    def __init__(self, items: Iterable[str] = ()) -> None:
        self._blob = b""
        self._offs = array("I", [0])  # uint32 while the blob is under 4 GiB, then int64
        self._gone = bytearray()  # 1: the packed item was removed
        self._tail: list[str | None] = []
        self._tail.extend(items)
        if self._tail:
            self.pack()

    def __len__(self) -> int:
        return len(self._gone) + len(self._tail)

    @overload
    def __getitem__(self, i: int) -> str | None: ...

    @overload
    def __getitem__(self, i: slice) -> list[str | None]: ...

    def __getitem__(self, i: int | slice) -> str | None | list[str | None]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self._gone)
        if i < 0:
            i += n + len(self._tail)
        if i >= n:
            return self._tail[i - n]
        if self._gone[i]:
            return None
        return self._blob[self._offs[i] : self._offs[i + 1]].decode()

    def __setitem__(self, i: int, value: None) -> None:
        """Empty item ``i`` (a removal); items are never changed to another string."""
        if value is not None:
            raise ValueError("a packed item can only be removed (set to None)")
        n = len(self._gone)
        if i < 0:
            i += n + len(self._tail)
        if i >= n:
            self._tail[i - n] = None
        else:
            self._gone[i] = 1

    def __iter__(self) -> Iterator[str | None]:
        for i in range(len(self)):
            yield self[i]

    def append(self, item: str) -> None:
        self._tail.append(item)

    def alive(self) -> bytearray:
        """One byte per item: 1 where it is held, 0 where it was removed."""
        out = self._gone.translate(_FLIP)
        out.extend(s is not None for s in self._tail)
        return out

    def pack(self) -> None:
        """Move the appended items into the blob (a build calls this once it has them all)."""
        if not self._tail:
            return
        encoded = [(s or "").encode() for s in self._tail]
        gone = bytearray(s is None for s in self._tail)
        if self._offs.typecode != "q" and len(self._blob) + sum(map(len, encoded)) >= 1 << 32:
            self._offs = array("q", self._offs)
        ends = array(self._offs.typecode)
        at = self._offs[-1]
        for e in encoded:
            at += len(e)
            ends.append(at)
        self._blob += b"".join(encoded)
        self._offs.extend(ends)
        self._gone.extend(gone)
        self._tail = []

    def nbytes(self) -> int:
        """Bytes held by the packed part (blob, offsets, removal flags)."""
        return len(self._blob) + self._offs.itemsize * len(self._offs) + len(self._gone)
