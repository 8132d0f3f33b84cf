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
            gen[j] = float(_top_mean(sims, top_m).mean())
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

    def eligible(self) -> np.ndarray: ...

    def norm(self, artist_id: int, total: int) -> StyleNorm: ...


class StyleNorms(Mapping[int, StyleNorm]):
    """The norms of a :class:`StyleNormState`, read from its arrays on access (building 100,000
    ``StyleNorm`` objects after every change would cost more than the change)."""

    def __init__(self, state: NormSource) -> None:
        self._state = state
        self._eligible = state.eligible()
        self._total = int(state.n_own.sum())

    def __getitem__(self, artist_id: int) -> StyleNorm:
        if not (0 <= artist_id < len(self._eligible)) or not self._eligible[artist_id]:
            raise KeyError(artist_id)
        return self._state.norm(artist_id, self._total)

    def __iter__(self) -> Iterator[int]:
        return (int(a) for a in np.flatnonzero(self._eligible))

    def __len__(self) -> int:
        return int(self._eligible.sum())


class StyleNormState:
    """What the style norms are made of, kept so that one artist's works change updates them.

    ``imp_sum[a]`` is the sum, over every other artist's works, of the work's style score
    against ``a``; a works change of artist ``c`` takes the old works' terms out of every
    other artist's sum and puts the new ones in (one product of ``c``'s works with all
    stored works), and computes ``c``'s own sum and genuine mean again. Arrays are indexed by
    artist id. The result equals :func:`style_norms` within float rounding.
    """

    def __init__(self, dim: int, top_m: int) -> None:
        self.top_m = top_m
        self.vectors = np.zeros((0, dim), np.float32)  # one row per stored work (a slot)
        self.owner = np.zeros(0, np.int64)  # the slot's artist, -1 when free
        self.slots: dict[int, np.ndarray] = {}
        self._free: list[int] = []
        self.imp_sum = np.zeros(0)
        self.gen = np.zeros(0)
        self.n_own = np.zeros(0, np.int64)

    @classmethod
    def build(cls, artist_works: Mapping[int, tuple[np.ndarray, np.ndarray]], top_m: int,
              dim: int, chunk: int = 256) -> StyleNormState:
        """The state of all artists' works (the sums :func:`style_norms` takes, vectorised:
        each chunk of works against every stored work, summed per artist by owner, then each
        work's term against its own artist taken out again)."""
        state = cls(dim, top_m)
        ids = sorted(a for a, (w, _) in artist_works.items() if len(w) > 0)
        if not ids:
            return state
        counts = np.array([len(artist_works[a][0]) for a in ids], np.int64)
        state.vectors = np.concatenate([artist_works[a][1] for a in ids]).astype(np.float32).reshape(-1, dim)
        state.owner = np.repeat(np.array(ids, np.int64), counts)
        bounds = np.cumsum(np.r_[0, counts])
        state.slots = {a: np.arange(bounds[j], bounds[j + 1]) for j, a in enumerate(ids)}
        size = max(ids) + 1
        state._grow(size)
        at = np.array(ids, np.int64)
        state.n_own[at] = counts
        for start in range(0, len(state.owner), chunk):
            sims = state.vectors[start:start + chunk] @ state.vectors.T
            state.imp_sum += _segment_top_sums(sims, state.owner, state.n_own, top_m, size)
        # each work's own term: with at most top_m works, the mean of all own works (its sum
        # over the artist's works is |sum of the works|^2 / n); with more, computed per artist
        sums = np.add.reduceat(state.vectors.astype(np.float64), bounds[:-1], axis=0)
        own = (sums * sums).sum(axis=1) / counts
        for j in np.flatnonzero(counts >= 2):
            a = ids[j]
            if counts[j] > top_m:
                block = state.vectors[state.slots[a]]
                own[j] = float(_top_mean(block @ block.T, top_m).sum(dtype=np.float64))
            state.gen[a] = state._genuine(a)
        state.imp_sum[at] -= own
        return state

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def update(self, artist_id: int, vectors: np.ndarray | None,
               works: Mapping[int, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        """Artist ``artist_id``'s works are now ``vectors`` (None or empty: it has none).
        (``works``, the view's works after the change, is for the sampled state; unused here.)

        One product of the artist's old and new works with every stored work gives all three
        changes: the old works' terms leave every other artist's sum, the new works' terms
        enter it, and the artist's own sum is the other works against its new works.
        """
        self._grow(max(len(self.imp_sum), artist_id + 1))
        size = len(self.imp_sum)
        dim = self.vectors.shape[1]
        new = np.zeros((0, dim), np.float32) if vectors is None else np.asarray(vectors, np.float32).reshape(-1, dim)
        old = self.slots.pop(artist_id, None)
        old_vectors = self.vectors[old] if old is not None else np.zeros((0, dim), np.float32)
        others = (self.owner >= 0) & (self.owner != artist_id)
        sims = (np.concatenate([old_vectors, new]) @ self.vectors.T)[:, others]
        owners = self.owner[others]
        k = len(old_vectors)
        if k:
            self.imp_sum -= _segment_top_sums(sims[:k], owners, self.n_own, self.top_m, size)
        if len(new):
            self.imp_sum += _segment_top_sums(sims[k:], owners, self.n_own, self.top_m, size)
        self.imp_sum[artist_id] = (float(_top_mean(sims[k:].T, self.top_m).sum(dtype=np.float64))
                                   if len(new) and sims.shape[1] else 0.0)
        if old is not None:
            self.owner[old] = -1
            self._free.extend(int(i) for i in old)
        self.n_own[artist_id] = len(new)
        self.gen[artist_id] = 0.0
        if not len(new):
            return
        slots = self._take(len(new))
        self.vectors[slots] = new
        self.owner[slots] = artist_id
        self.slots[artist_id] = slots
        self.gen[artist_id] = self._genuine(artist_id)

    def _take(self, n: int) -> np.ndarray:
        taken = [self._free.pop() for _ in range(min(n, len(self._free)))]
        missing = n - len(taken)
        if missing:
            start = len(self.owner)
            grow = max(missing, start // 4, 16)  # amortised: slots are added in blocks
            self.vectors = np.concatenate([self.vectors, np.zeros((grow, self.vectors.shape[1]), np.float32)])
            self.owner = np.r_[self.owner, np.full(grow, -1, np.int64)]
            taken += list(range(start, start + missing))
            self._free.extend(range(start + grow - 1, start + missing - 1, -1))
        return np.array(sorted(taken), np.int64)

    def eligible(self) -> np.ndarray:
        """Which artist ids have a norm (see the module docstring)."""
        with_works = self.n_own > 0
        if int(with_works.sum()) < 2:
            return np.zeros(len(self.n_own), bool)
        total = int(self.n_own.sum())
        n_imp = np.maximum(total - self.n_own, 1)
        return (self.n_own >= 2) & (self.gen - self.imp_sum / n_imp >= MIN_GAP)

    def norm(self, artist_id: int, total: int) -> StyleNorm:
        """``artist_id``'s norm, with ``total`` works stored in all."""
        n_imp = total - int(self.n_own[artist_id])
        return StyleNorm(float(self.imp_sum[artist_id] / n_imp), float(self.gen[artist_id]),
                         int(self.n_own[artist_id]), n_imp)

    def norms(self) -> StyleNorms:
        return StyleNorms(self)

    def _grow(self, size: int) -> None:
        if size > len(self.imp_sum):
            pad = size - len(self.imp_sum)
            self.imp_sum = np.r_[self.imp_sum, np.zeros(pad)]
            self.gen = np.r_[self.gen, np.zeros(pad)]
            self.n_own = np.r_[self.n_own, np.zeros(pad, np.int64)]

    def _genuine(self, artist_id: int) -> float:
        own = self.vectors[self.slots[artist_id]]
        if len(own) < 2:
            return 0.0
        sims = own @ own.T
        np.fill_diagonal(sims, -np.inf)  # leave-one-out: a work is never its own neighbour
        return float(_top_mean(sims, self.top_m).mean())
