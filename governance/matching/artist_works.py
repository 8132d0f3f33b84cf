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
        self.reads = 0  # lookups that read vectors from the file (the benchmark reports them)
        self.rows_read = 0

    def __getitem__(self, artist_id: int) -> Entry:
        ids = self._ids[artist_id]
        self.reads += 1
        self.rows_read += int(ids.size)
        return ids, self.index.reconstruct(ids)

    def many(self, artist_ids: list[int]) -> dict[int, Entry]:
        """Several artists' entries from one read: their rows sorted, one fancy index on the
        mapped file (an image check's candidate artists, instead of one read each)."""
        groups = [self._ids[a] for a in artist_ids]
        if not groups:
            return {}
        vectors = self.index.reconstruct(np.concatenate(groups))
        self.reads += len(groups)
        self.rows_read += int(vectors.shape[0])
        bounds = np.cumsum([0] + [g.size for g in groups])
        return {a: (g, vectors[bounds[j]:bounds[j + 1]]) for j, (a, g) in enumerate(zip(artist_ids, groups))}

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
