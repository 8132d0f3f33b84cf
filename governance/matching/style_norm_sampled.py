"""Style norms from a bounded sample, for registries too large to compare all pairs.

The exact norms (:mod:`.style_norm`) compare every stored work with every artist's works:
n² dot products and n per-row segment sorts, about 150 s at 10^5 64-d works and out of reach
at 10^6 512-d ones. Both reference points are means, so a fixed random sample estimates them:

- ``impostor``: the mean style score against artist ``a`` of the *sampled* works of other
  artists (:data:`IMPOSTOR_SAMPLE` works drawn once, seeded, from all stored works): one
  product of the sample with every stored work, ``sample × n × dim`` flops instead of
  ``n × n × dim``; its standard error is the spread of strangers' scores over √sample;
- ``genuine``: the leave-one-out mean over at most :data:`GENUINE_SAMPLE` of the artist's own
  works (all of them, hence exact, for every artist with fewer).

The sample is drawn when the state is built and kept: works added later are scored against
it but do not join it (a rebuild draws again); a sampled work that is withdrawn leaves it,
and its terms leave every other artist's sum (that reads every artist's works once, a rare
event: a work is sampled with probability sample / n). The works' vectors are read from the
given mapping artist by artist (on demand from the memory-mapped index above the Flat
threshold); only the sample's vectors stay in RAM.

:func:`build_norm_state` picks the exact state up to :data:`EXACT_MAX_WORKS` works and this
one above. The error against the exact norms is measured by ``stylegate bench index``
(``bench/README.md``) at a size where both run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np

from stylegate.governance.matching.style_norm import MIN_GAP, StyleNorm, StyleNorms, StyleNormState, _top_mean

log = logging.getLogger(__name__)

EXACT_MAX_WORKS = 50_000  # up to here every pair (the exact state); the index's own Flat threshold
IMPOSTOR_SAMPLE = 1024  # other artists' works the impostor mean is estimated from
GENUINE_SAMPLE = 256  # own works the leave-one-out genuine mean is estimated from
GROUP_WORKS = 8192  # works of several artists multiplied with the sample at once

Works = Mapping[int, tuple[np.ndarray, np.ndarray]]


class SampledStyleNormState:
    """Per-artist impostor sums over a fixed sample of works, and sampled genuine means.

    Same interface as :class:`StyleNormState` (``update``, ``norms``, ``eligible``, ``norm``,
    ``dim``); arrays are indexed by artist id.
    """

    def __init__(self, dim: int, top_m: int, works: Works, sample_ids: np.ndarray, sample_owner: np.ndarray,
                 sample_vectors: np.ndarray, seed: int) -> None:
        self.top_m = top_m
        self._dim = dim
        self.seed = seed
        self._works = works  # the view's artist works: read again when a sampled work leaves
        self.sample_ids = sample_ids
        self.sample_owner = sample_owner
        self.sample_vectors = sample_vectors
        self.imp_sum = np.zeros(0)
        self.n_imp = np.zeros(0, np.int64)
        self.gen = np.zeros(0)
        self.n_own = np.zeros(0, np.int64)

    @property
    def dim(self) -> int:
        return self._dim

    # -- building -----------------------------------------------------------------------

    @classmethod
    def build(cls, artist_works: Works, top_m: int, dim: int, *, sample: int = IMPOSTOR_SAMPLE,
              seed: int = 0) -> SampledStyleNormState:
        """Draw the sample (seeded) and compute every artist's sums against it."""
        ids = sorted(a for a in artist_works if len(_work_ids(artist_works, a)) > 0)
        counts = np.array([len(_work_ids(artist_works, a)) for a in ids], np.int64)
        total = int(counts.sum())
        rng = np.random.default_rng(seed)
        picked = np.sort(rng.choice(total, size=min(sample, total), replace=False)) if total else np.zeros(0, np.int64)
        # picked positions in the artists' concatenated works → (artist, position in its works)
        bounds = np.cumsum(np.r_[0, counts])
        owner_pos = np.searchsorted(bounds, picked, side="right") - 1
        sample_owner = np.array([ids[j] for j in owner_pos], np.int64)
        sample_ids = np.zeros(len(picked), np.int64)
        sample_vectors = np.zeros((len(picked), dim), np.float32)
        for j in np.unique(owner_pos):
            rows = np.flatnonzero(owner_pos == j)
            w_ids, w_vec = artist_works[ids[j]]
            at = picked[rows] - bounds[j]
            sample_ids[rows] = np.asarray(w_ids)[at]
            sample_vectors[rows] = np.asarray(w_vec, np.float32).reshape(-1, dim)[at]
        state = cls(dim, top_m, artist_works, sample_ids, sample_owner, sample_vectors, seed)
        if ids:
            state._grow(max(ids) + 1)
        many = getattr(artist_works, "many", None)  # on-demand works: one batched read per group
        for group in _groups(ids, counts):
            entries = many(group) if many is not None else {a: artist_works[a] for a in group}
            state._score_artists(group, [entries[a][1] for a in group])
        log.info("sampled style norms: %d artists, %d works, impostors from %d sampled works",
                 len(ids), total, len(picked))
        return state

    def _score_artists(self, artists: list[int], vectors: list[np.ndarray]) -> None:
        """Each artist's impostor sum over the sample rows it does not own, and its genuine mean."""
        if not artists:
            return
        blocks = [np.asarray(v, np.float32).reshape(-1, self._dim) for v in vectors]
        sims_all = self.sample_vectors @ np.concatenate(blocks).T  # one product for the group
        start = 0
        for a, block in zip(artists, blocks):
            n = len(block)
            sims = sims_all[:, start:start + n]
            start += n
            others = self.sample_owner != a
            self.n_own[a] = n
            self.n_imp[a] = int(others.sum())
            self.imp_sum[a] = float(_top_mean(sims[others], self.top_m).sum(dtype=np.float64)) if n and others.any() else 0.0
            self.gen[a] = self._genuine(a, block)

    def _genuine(self, artist_id: int, own: np.ndarray) -> float:
        """Leave-one-out mean over all own works, or over GENUINE_SAMPLE of them (seeded per artist)."""
        n = len(own)
        if n < 2:
            return 0.0
        rows = np.arange(n)
        if n > GENUINE_SAMPLE:
            rows = np.sort(np.random.default_rng((self.seed, artist_id)).choice(n, GENUINE_SAMPLE, replace=False))
        sims = own[rows] @ own.T
        sims[np.arange(len(rows)), rows] = -np.inf  # a work is never its own neighbour
        return float(_top_mean(sims, min(self.top_m, n - 1)).mean())  # the diagonal never counts

    # -- changes ------------------------------------------------------------------------

    def update(self, artist_id: int, vectors: np.ndarray | None, works: Works | None = None) -> None:
        """Artist ``artist_id``'s works are now ``vectors`` (None or empty: it has none).

        Its own sums are computed again against the sample. If some of its sampled works are
        gone (the sample holds work ids; ``works``, the view's works mapping after the
        change, says which it still has), they leave the sample and their terms leave every
        other artist's sum.
        """
        if works is not None:
            self._works = works
        self._grow(max(len(self.imp_sum), artist_id + 1))
        new = np.zeros((0, self._dim), np.float32) if vectors is None else np.asarray(vectors, np.float32).reshape(-1, self._dim)
        mine = np.flatnonzero(self.sample_owner == artist_id)
        if mine.size:
            kept = set(_work_ids(self._works, artist_id).tolist()) if artist_id in self._works and len(new) else set()
            gone = np.array([r for r in mine if int(self.sample_ids[r]) not in kept], np.int64)
            if gone.size:
                self._drop_sample_rows(gone, artist_id)
        if len(new):
            self._score_artists([artist_id], [new])
        else:
            self.n_own[artist_id] = 0
            self.n_imp[artist_id] = 0
            self.imp_sum[artist_id] = 0.0
            self.gen[artist_id] = 0.0

    def _drop_sample_rows(self, rows: np.ndarray, owner: int) -> None:
        """Take sample ``rows`` (works of ``owner`` that were withdrawn) out of every other
        artist's impostor sum, reading each artist's works once."""
        leaving = self.sample_vectors[rows]
        others = [a for a in self._works if a != owner and a < len(self.n_own) and self.n_own[a] > 0]
        log.info("sampled style norms: %d sampled works withdrawn; updating %d artists' sums", len(rows), len(others))
        for a in others:
            block = np.asarray(self._works[a][1], np.float32).reshape(-1, self._dim)
            self.imp_sum[a] -= float(_top_mean(leaving @ block.T, self.top_m).sum(dtype=np.float64))
            self.n_imp[a] -= len(rows)
        keep = np.setdiff1d(np.arange(len(self.sample_ids)), rows)
        self.sample_ids, self.sample_owner = self.sample_ids[keep], self.sample_owner[keep]
        self.sample_vectors = self.sample_vectors[keep]

    # -- reading ------------------------------------------------------------------------

    def eligible(self) -> np.ndarray:
        """Which artist ids have a norm (the rules of :mod:`.style_norm`)."""
        if int((self.n_own > 0).sum()) < 2:
            return np.zeros(len(self.n_own), bool)
        impostor = self.imp_sum / np.maximum(self.n_imp, 1)
        return (self.n_own >= 2) & (self.n_imp > 0) & (self.gen - impostor >= MIN_GAP)

    def is_eligible(self, artist_id: int) -> bool:
        """Whether ``artist_id`` has a norm."""
        return 0 <= artist_id < len(self.n_own) and bool(self.eligible()[artist_id])

    def norm(self, artist_id: int) -> StyleNorm:
        """``artist_id``'s norm (its impostor count is the sample's)."""
        n_imp = int(self.n_imp[artist_id])
        return StyleNorm(float(self.imp_sum[artist_id] / max(n_imp, 1)), float(self.gen[artist_id]),
                         int(self.n_own[artist_id]), n_imp)

    def norms(self) -> StyleNorms:
        return StyleNorms(self)

    def _grow(self, size: int) -> None:
        if size > len(self.imp_sum):
            pad = size - len(self.imp_sum)
            self.imp_sum = np.r_[self.imp_sum, np.zeros(pad)]
            self.n_imp = np.r_[self.n_imp, np.zeros(pad, np.int64)]
            self.gen = np.r_[self.gen, np.zeros(pad)]
            self.n_own = np.r_[self.n_own, np.zeros(pad, np.int64)]


def _work_ids(works: Works, artist_id: int) -> np.ndarray:
    """An artist's work ids without reading its vectors when the mapping can say them alone."""
    ids_of = getattr(works, "work_ids", None)
    return np.asarray(ids_of(artist_id) if ids_of is not None else works[artist_id][0])


def _groups(ids: list[int], counts: np.ndarray) -> Iterable[list[int]]:
    """Consecutive artists holding about GROUP_WORKS works between them."""
    group: list[int] = []
    held = 0
    for a, n in zip(ids, counts.tolist()):
        group.append(a)
        held += n
        if held >= GROUP_WORKS:
            yield group
            group, held = [], 0
    if group:
        yield group


def build_norm_state(artist_works: Works, top_m: int, dim: int) -> StyleNormState | SampledStyleNormState:
    """The exact state up to :data:`EXACT_MAX_WORKS` stored works, the sampled one above."""
    total = sum(len(_work_ids(artist_works, a)) for a in artist_works)
    if total <= EXACT_MAX_WORKS:
        return StyleNormState.build(artist_works, top_m, dim)
    return SampledStyleNormState.build(artist_works, top_m, dim)
