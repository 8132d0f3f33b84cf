"""Each artist's work vectors, read on demand from a memory-mapped style index.

The registry view maps artist id → (work ids, work vectors) for exact per-artist style
scores. Below the Flat threshold that is a plain dict holding a copy of every vector. Above it
the index keeps its vectors in a memory-mapped file (:mod:`stylegate.registry.vector_store`),
and :class:`OnDemandArtistWorks` holds only each artist's work ids: looking an artist up reads
that artist's rows from the file (through the page cache), so RAM holds ids, not vectors.
Reading it gives the same arrays as the in-RAM dict, hence the same scores and decisions.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.registry.style_index import StyleIndex

Entry = tuple[np.ndarray, np.ndarray]


class OnDemandArtistWorks(MutableMapping[int, Entry]):
    """artist id → (work ids, vectors), the vectors fetched from ``index`` at each lookup."""

    def __init__(self, index: StyleIndex, work_ids: dict[int, np.ndarray] | None = None) -> None:
        self.index = index
        self._ids: dict[int, np.ndarray] = dict(work_ids or {})

    def __getitem__(self, artist_id: int) -> Entry:
        ids = self._ids[artist_id]
        return ids, self.index.reconstruct(ids)

    def __setitem__(self, artist_id: int, value: Entry) -> None:
        """Keep only the ids: the vectors given are the index's own, read again when needed."""
        self._ids[artist_id] = np.asarray(value[0], dtype=np.int64)

    def __delitem__(self, artist_id: int) -> None:
        del self._ids[artist_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def rebind(self, index: StyleIndex) -> None:
        """Read from ``index`` from now on (the view's index was reloaded after a works change)."""
        self.index = index

    def work_ids(self, artist_id: int) -> np.ndarray:
        """The artist's work ids, without reading any vector."""
        return self._ids[artist_id]

    def resident_bytes(self) -> int:
        return sum(a.nbytes for a in self._ids.values())
