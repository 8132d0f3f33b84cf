"""Per-artist normalisation of the style score (a hubness correction).

The raw style score -- the mean cosine of an image with an artist's closest M works -- rises
with the number of works an artist has registered, for the artist's own images and for every
other artist's alike (more works, closer best ones), and some artists sit closer to everyone
than others (hubs). One cosine threshold then holds for one registry only: on StyleWorld,
0.57 misses 0.6% of an artist's images at 6 works per artist and flags a wrong artist on half
of them at 12.

The normalised score places the raw score between two reference points measured on the
registry itself, per artist:

- ``impostor``: the mean style score of the *other* artists' registered works against this
  artist (where a stranger's picture usually lands; the CSLS neighbourhood term);
- ``genuine``: the mean leave-one-out style score of the artist's own works (where its own
  pictures usually land, with one work fewer than a query sees).

``normalised = (score - impostor) / (genuine - impostor)``: 0 is a typical other artist's
work, 1 a typical own work, whatever the embedder, the number of works or the artist's
hubness. An artist with one work, or alone in the registry, or whose own works are not closer
to each other than strangers' (``MIN_GAP``), has no norm; the gate then falls back to the
cosine threshold ``style_cosine`` and says so in the evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

MIN_GAP = 0.02  # genuine - impostor below this: the artist's works do not form a style


@dataclass(frozen=True)
class StyleNorm:
    impostor: float
    genuine: float
    works: int
    impostors: int  # other artists' works the impostor mean was taken over

    def normalise(self, score: float) -> float:
        return (score - self.impostor) / (self.genuine - self.impostor)

    def detail(self) -> dict[str, float | int]:
        return {"impostor_mean": round(self.impostor, 4), "genuine_mean": round(self.genuine, 4),
                "works": self.works, "impostor_works": self.impostors}


def _top_mean(block: np.ndarray, m: int) -> np.ndarray:
    m = min(m, block.shape[1])
    return -np.partition(-block, m - 1, axis=1)[:, :m].mean(axis=1)


def _column_top_means(sims: np.ndarray, m: int) -> np.ndarray:
    """The mean of each column's best ``min(m, rows)`` values (float64). For a few rows, the
    best ``m`` of each column are kept in ``m`` running arrays (a merge, row by row, of
    contiguous element-wise max and min): ``np.partition`` along a short axis costs a call per
    column."""
    rows = sims.shape[0]
    m = min(m, rows)
    if rows > 32 or m == 0:
        return _top_mean(sims.T, m).astype(np.float64) if m else np.zeros(sims.shape[1])
    best = [np.full(sims.shape[1], -np.inf, sims.dtype) for _ in range(m)]  # best[0] >= best[1] >= ...
    for x in sims:
        for k in range(m - 1, 0, -1):
            np.maximum(best[k], np.minimum(best[k - 1], x), out=best[k])
        np.maximum(best[0], x, out=best[0])
    out = np.zeros(sims.shape[1])
    for level in best:
        out += level
    return out / m


def _full_sums(artist_works: Mapping[int, tuple[np.ndarray, np.ndarray]], top_m: int, chunk: int
               ) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """The artists with works, their impostor sums, genuine means and work counts."""
    ids = sorted(a for a, (w, _) in artist_works.items() if len(w) > 0)
    if not ids:
        return ids, np.zeros(0), np.zeros(0), np.zeros(0, np.int64)
    vectors = np.concatenate([artist_works[a][1] for a in ids]).astype(np.float32)
    owner = np.concatenate([np.full(len(artist_works[a][0]), a) for a in ids])
    bounds = np.cumsum([0] + [len(artist_works[a][0]) for a in ids])
    imp_sum = np.zeros(len(ids))
    gen = np.zeros(len(ids))
    for j, _a in enumerate(ids):
        own = vectors[bounds[j]:bounds[j + 1]]
        if len(own) >= 2:  # leave-one-out: a work is never its own neighbour
            sims = own @ own.T
            np.fill_diagonal(sims, -np.inf)
            gen[j] = float(_top_mean(sims, min(top_m, len(own) - 1)).mean())  # the diagonal never counts
    for start in range(0, len(vectors), chunk):
        sims = vectors[start:start + chunk] @ vectors.T
        rows_owner = owner[start:start + chunk]
        for j, a in enumerate(ids):
            others = rows_owner != a
            if others.any():
                imp_sum[j] += float(_top_mean(sims[others, bounds[j]:bounds[j + 1]], top_m).sum())
    return ids, imp_sum, gen, np.diff(bounds).astype(np.int64)


def style_norms(artist_works: Mapping[int, tuple[np.ndarray, np.ndarray]], top_m: int,
                chunk: int = 1024) -> dict[int, StyleNorm]:
    """Each eligible artist's impostor and genuine means (see the module docstring)."""
    ids, imp_sum, gen, n_own = _full_sums(artist_works, top_m, chunk)
    if len(ids) < 2:
        return {}
    total = int(n_own.sum())
    out: dict[int, StyleNorm] = {}
    for j, a in enumerate(ids):
        n_imp = total - int(n_own[j])
        impostor = imp_sum[j] / n_imp
        if n_own[j] < 2 or gen[j] - impostor < MIN_GAP:
            log.debug("artist %s has no style norm (%d works, gap %.3f)", a, n_own[j], gen[j] - impostor)
            continue
        out[int(a)] = StyleNorm(float(impostor), float(gen[j]), int(n_own[j]), n_imp)
    return out


def _segment_top_sums(sims: np.ndarray, owner: np.ndarray, n_own: np.ndarray, top_m: int,
                      size: int) -> np.ndarray:
    """For each artist (an index into ``n_own``), the sum over the rows of ``sims`` (queries by
    stored works, the works' ``owner``) of the mean of its best ``min(top_m, n)`` works."""
    out = np.zeros(size)
    if sims.size == 0:
        return out
    counts = n_own[owner]
    small = counts <= top_m  # all of the artist's works count: a plain mean, summed by owner
    if small.all():
        out += np.bincount(owner, weights=sims.sum(axis=0, dtype=np.float64) / counts, minlength=size)[:size]
    elif small.any():
        col = sims[:, small].sum(axis=0, dtype=np.float64) / counts[small]
        out += np.bincount(owner[small], weights=col, minlength=size)[:size]
    big = np.flatnonzero(~small)
    if big.size:
        own = owner[big]
        for row in sims[:, big]:
            order = np.lexsort((-row, own))
            sorted_own = own[order]
            starts = np.flatnonzero(np.r_[True, sorted_own[1:] != sorted_own[:-1]])
            rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
            keep = rank < top_m
            out += np.bincount(sorted_own[keep], weights=row[order][keep].astype(np.float64) / top_m,
                               minlength=size)[:size]
    return out


class NormSource(Protocol):
    """What :class:`StyleNorms` reads: the exact state here or the sampled one
    (:mod:`.style_norm_sampled`)."""

    n_own: np.ndarray

    def is_eligible(self, artist_id: int) -> bool: ...

    def eligible(self) -> np.ndarray: ...

    def norm(self, artist_id: int) -> StyleNorm: ...


class StyleNorms(Mapping[int, StyleNorm]):
    """The norms of a :class:`StyleNormState`, each computed from the state when it is read
    (an image check reads the norms of its few candidates; building 100,000 ``StyleNorm``
    objects, or even every artist's impostor mean, after every change would cost more than
    the change). Iterating or counting computes them all."""

    def __init__(self, state: NormSource) -> None:
        self._state = state

    def __getitem__(self, artist_id: int) -> StyleNorm:
        if not isinstance(artist_id, (int, np.integer)) or not self._state.is_eligible(int(artist_id)):
            raise KeyError(artist_id)
        return self._state.norm(int(artist_id))

    def __iter__(self) -> Iterator[int]:
        return (int(a) for a in np.flatnonzero(self._state.eligible()))

    def __len__(self) -> int:
        return int(self._state.eligible().sum())


class StyleNormState:
    """What the style norms are made of, kept so that one artist's works change updates them
    at the cost of the change, not of the registry.

    An artist ``a`` with at most ``top_m`` works scores every stored work ``w`` by the plain
    mean of ``w`` with its works, so its impostor sum over the other artists' works is
    ``(T - S_a) . S_a / n_a`` (``T`` the sum of all stored work vectors, ``S_a`` the sum of
    ``a``'s): the state keeps ``T`` and computes that when the norm is read. Only artists with
    more than ``top_m`` works ("large" ones: the best M of their works depend on the query)
    keep a summed impostor term, which a works change of another artist moves by the changed
    works' terms against the large artists' works alone, and which a large artist's own
    change computes again against every stored work. A change therefore costs
    O(changed works x (dim + works of large artists)), plus O(stored works) when the changed
    artist is large. The result equals :func:`style_norms` within float rounding.
    """

    def __init__(self, dim: int, top_m: int) -> None:
        self.top_m = top_m
        self.dim = dim
        # one row per stored work (a slot), in blocks: new slots come in a new block, so a
        # change never copies the rows already stored
        self._blocks: list[np.ndarray] = []
        self._starts = np.zeros(0, np.int64)  # the first slot of each block
        self.owner = np.zeros(0, np.int64)  # the slot's artist, -1 when free
        self.slots: dict[int, np.ndarray] = {}
        self._free: list[int] = []
        self.total = np.zeros(dim)  # T: the sum of every stored work vector (float64)
        self.n_works = 0
        self.large_sum: dict[int, float] = {}  # impostor sums of the artists with > top_m works
        self._large_cols: tuple[np.ndarray, np.ndarray, np.ndarray, list[int]] | None = None
        self.gen = np.zeros(0)  # by artist id (capacity grows in blocks)
        self.n_own = np.zeros(0, np.int64)

    @classmethod
    def build(cls, artist_works: Mapping[int, tuple[np.ndarray, np.ndarray]], top_m: int,
              dim: int, chunk: int = 256) -> StyleNormState:
        """The state of all artists' works: the sum of all works, each artist's genuine mean,
        and the large artists' impostor sums (each chunk of works against the large artists'
        works, summed per artist by owner, then each work's term against its own artist taken
        out again)."""
        state = cls(dim, top_m)
        ids = sorted(a for a, (w, _) in artist_works.items() if len(w) > 0)
        if not ids:
            return state
        counts = np.array([len(artist_works[a][0]) for a in ids], np.int64)
        vectors = np.concatenate([artist_works[a][1] for a in ids]).astype(np.float32).reshape(-1, dim)
        state._blocks, state._starts = [vectors], np.zeros(1, np.int64)
        state.owner = np.repeat(np.array(ids, np.int64), counts)
        # free slots for the works changes to come, so the first ones allocate nothing
        state._add_block(max(16, len(vectors) // 16))
        bounds = np.cumsum(np.r_[0, counts])
        state.slots = {a: np.arange(bounds[j], bounds[j + 1]) for j, a in enumerate(ids)}
        state._grow(max(ids) + 1)
        state.n_own[np.array(ids, np.int64)] = counts
        state.total = vectors.sum(axis=0, dtype=np.float64)
        state.n_works = len(vectors)
        for j in np.flatnonzero(counts >= 2):
            state.gen[ids[j]] = state._genuine(ids[j])
        large = [a for a, n in zip(ids, counts) if n > top_m]
        if large:
            state.large_sum = dict.fromkeys(large, 0.0)
            cols, local, local_counts, order = state._large_columns()
            sums = np.zeros(len(order))
            block = vectors[cols]
            for start in range(0, len(vectors), chunk):
                sims = vectors[start:start + chunk] @ block.T
                sums += _segment_top_sums(sims, local, local_counts, top_m, len(order))
            for k in range(len(order)):  # each large artist's own works' terms out again
                own = block[local == k]
                sums[k] -= float(_top_mean(own @ own.T, top_m).sum(dtype=np.float64))
            state.large_sum = {a: float(sums[k]) for k, a in enumerate(order)}
        return state

    def update(self, artist_id: int, vectors: np.ndarray | None,
               works: Mapping[int, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        """Artist ``artist_id``'s works are now ``vectors`` (None or empty: it has none).
        (``works``, the view's works after the change, is for the sampled state; unused here.)"""
        self._grow(artist_id + 1)
        dim = self.dim
        new = np.zeros((0, dim), np.float32) if vectors is None else np.asarray(vectors, np.float32).reshape(-1, dim)
        old = self.slots.pop(artist_id, None)
        old_vectors = self.rows(old) if old is not None else np.zeros((0, dim), np.float32)
        was_large = artist_id in self.large_sum
        self.large_sum.pop(artist_id, None)
        if was_large:
            self._large_cols = None
        if self.large_sum and (len(old_vectors) or len(new)):
            # the other large artists: the old works' terms out of their sums, the new ones in
            cols, local, local_counts, order = self._large_columns()
            sims = np.concatenate([old_vectors, new]) @ self.rows(cols).T
            k = len(old_vectors)
            delta = np.zeros(len(order))
            if k:
                delta -= _segment_top_sums(sims[:k], local, local_counts, self.top_m, len(order))
            if len(new):
                delta += _segment_top_sums(sims[k:], local, local_counts, self.top_m, len(order))
            for j, a in enumerate(order):
                self.large_sum[a] += float(delta[j])
        self.total -= old_vectors.sum(axis=0, dtype=np.float64)
        self.total += new.sum(axis=0, dtype=np.float64)
        self.n_works += len(new) - len(old_vectors)
        if old is not None:
            self.owner[old] = -1
            self._free.extend(int(i) for i in old)
        self.n_own[artist_id] = len(new)
        self.gen[artist_id] = 0.0
        if not len(new):
            return
        slots = self._take(len(new))
        self._set_rows(slots, new)
        self.owner[slots] = artist_id
        self.slots[artist_id] = slots
        self.gen[artist_id] = self._genuine(artist_id)
        if len(new) > self.top_m:
            # its own sum: every other stored work against its works (one pass over them all)
            others = (self.owner >= 0) & (self.owner != artist_id)
            sims = np.concatenate([new @ block.T for block in self._blocks], axis=1)
            self.large_sum[artist_id] = float(_column_top_means(sims, self.top_m) @ others)
            self._large_cols = None

    def _large_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """The slots of the large artists' works, each slot's artist as an index into the
        returned order, the artists' work counts, and the artists (cached until one changes)."""
        if self._large_cols is None:
            order = sorted(self.large_sum)
            cols = np.concatenate([self.slots[a] for a in order]) if order else np.zeros(0, np.int64)
            local = np.repeat(np.arange(len(order)), [len(self.slots[a]) for a in order]).astype(np.int64)
            counts = np.array([len(self.slots[a]) for a in order], np.int64)
            self._large_cols = (cols, local, counts, order)
        return self._large_cols

    def rows(self, slots: np.ndarray) -> np.ndarray:
        """The stored vectors of ``slots`` (a copy)."""
        slots = np.asarray(slots, np.int64)
        if not slots.size:
            return np.zeros((0, self.dim), np.float32)
        which = np.searchsorted(self._starts, slots, side="right") - 1
        if which[0] == which[-1] and (which == which[0]).all():
            return self._blocks[int(which[0])][slots - self._starts[which[0]]]
        out = np.empty((len(slots), self.dim), np.float32)
        for b in np.unique(which):
            at = which == b
            out[at] = self._blocks[int(b)][slots[at] - self._starts[b]]
        return out

    def _set_rows(self, slots: np.ndarray, vectors: np.ndarray) -> None:
        which = np.searchsorted(self._starts, slots, side="right") - 1
        for b in np.unique(which):
            at = which == b
            self._blocks[int(b)][slots[at] - self._starts[b]] = vectors[at]

    def _take(self, n: int) -> np.ndarray:
        taken = [self._free.pop() for _ in range(min(n, len(self._free)))]
        missing = n - len(taken)
        if missing:
            start = len(self.owner)
            self._add_block(max(missing, start // 4, 16))  # amortised: slots are added in blocks
            taken += [self._free.pop() for _ in range(missing)]
        return np.array(sorted(taken), np.int64)

    def _add_block(self, size: int) -> None:
        """``size`` free slots more, in a new block (the stored rows are not copied)."""
        start = len(self.owner)
        self._blocks.append(np.zeros((size, self.dim), np.float32))
        self._starts = np.r_[self._starts, start].astype(np.int64)
        self.owner = np.r_[self.owner, np.full(size, -1, np.int64)]
        self._free.extend(range(start + size - 1, start - 1, -1))  # popped lowest first

    def impostor_sum(self, artist_id: int) -> float:
        """The sum, over every other artist's stored works, of the work's style score against
        ``artist_id`` (see the class docstring)."""
        if artist_id in self.large_sum:
            return self.large_sum[artist_id]
        slots = self.slots.get(artist_id)
        if slots is None:
            return 0.0
        own = self.rows(slots).sum(axis=0, dtype=np.float64)
        return float((self.total - own) @ own) / len(slots)

    def _artists_with_works(self) -> int:
        return len(self.slots)

    def is_eligible(self, artist_id: int) -> bool:
        """Whether ``artist_id`` has a norm (see the module docstring)."""
        if not 0 <= artist_id < len(self.n_own) or self.n_own[artist_id] < 2 or self._artists_with_works() < 2:
            return False
        n_imp = self.n_works - int(self.n_own[artist_id])
        return bool(self.gen[artist_id] - self.impostor_sum(artist_id) / n_imp >= MIN_GAP)

    def eligible(self) -> np.ndarray:
        """Which artist ids have a norm, every artist at once (for iterating the norms)."""
        out = np.zeros(len(self.n_own), bool)
        for a in np.flatnonzero(self.n_own >= 2):
            out[a] = self.is_eligible(int(a))
        return out

    def norm(self, artist_id: int) -> StyleNorm:
        """``artist_id``'s norm."""
        n_imp = self.n_works - int(self.n_own[artist_id])
        return StyleNorm(float(self.impostor_sum(artist_id) / n_imp), float(self.gen[artist_id]),
                         int(self.n_own[artist_id]), n_imp)

    def norms(self) -> StyleNorms:
        return StyleNorms(self)

    def _grow(self, size: int) -> None:
        """Room for artist ids below ``size`` (in blocks: registering artists one by one
        must not copy the arrays each time)."""
        if size > len(self.n_own):
            pad = max(size, 2 * len(self.n_own), 16) - len(self.n_own)
            self.gen = np.r_[self.gen, np.zeros(pad)]
            self.n_own = np.r_[self.n_own, np.zeros(pad, np.int64)]

    def _genuine(self, artist_id: int) -> float:
        own = self.rows(self.slots[artist_id])
        if len(own) < 2:
            return 0.0
        sims = own @ own.T
        np.fill_diagonal(sims, -np.inf)  # leave-one-out: a work is never its own neighbour
        return float(_top_mean(sims, min(self.top_m, len(own) - 1)).mean())  # the diagonal never counts
