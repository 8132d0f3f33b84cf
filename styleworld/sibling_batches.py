"""Training batches that always hold sibling/parent pairs, and the image-to-image loss they feed.

A sibling (:data:`.world.SIBLINGS`) differs from its parent in one attribute. In a batch drawn
uniformly from 22 artists x 8 subjects, a sibling and its parent with the same subject meet
rarely, so the CLIP loss is dominated by easy negatives and never learns the one attribute that
tells them apart. :class:`PairSampler` fills part of every batch with *hard groups*: one
(sibling, parent) pair, one subject, several renders of each at different seeds; the rest of the
batch is drawn uniformly as before. :func:`supcon_loss` then contrasts every image with the
others by artist (same artist: positive, whatever the subject; the other half of its pair: the
hardest negative in the batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .world import StyleArtist


def sibling_pairs(roster: Sequence[StyleArtist]) -> list[tuple[int, int]]:
    """(sibling, parent) index pairs within ``roster`` (pairs whose parent is absent are left out)."""
    index = {a.name: i for i, a in enumerate(roster)}
    return [(i, index[a.parent]) for i, a in enumerate(roster) if a.parent is not None and a.parent in index]


class PairSampler:
    """Batch indices into a rendered set: hard sibling/parent groups plus a uniform remainder."""

    def __init__(self, artists: np.ndarray, subjects: np.ndarray, pairs: Sequence[tuple[int, int]],
                 rng: np.random.Generator, per_side: int = 4) -> None:
        if per_side < 1:
            raise ValueError("per_side must be at least 1")
        self.n = len(artists)
        self.pairs = list(pairs)
        self.rng = rng
        self.per_side = per_side
        self.cells: dict[tuple[int, int], np.ndarray] = {}
        for key in {(int(a), int(s)) for a, s in zip(artists, subjects)}:
            self.cells[key] = np.flatnonzero((artists == key[0]) & (subjects == key[1]))
        self.subjects = sorted({int(s) for s in subjects})
        self.last_hard = 0  # how many of the last batch's indices (its first ones) are in hard groups

    def batch(self, size: int, hard_share: float) -> np.ndarray:
        """``size`` distinct indices, about ``hard_share`` of them in sibling/parent groups."""
        groups = int(round(size * hard_share)) // (2 * self.per_side) if self.pairs else 0
        chosen: list[np.ndarray] = []
        for _ in range(groups):
            sib, parent = self.pairs[int(self.rng.integers(len(self.pairs)))]
            subject = self.subjects[int(self.rng.integers(len(self.subjects)))]
            for artist in (sib, parent):
                cell = self.cells.get((artist, subject))
                if cell is not None and len(cell):
                    chosen.append(self.rng.choice(cell, size=min(self.per_side, len(cell)), replace=False))
        hard = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
        rest = np.setdiff1d(np.arange(self.n), hard, assume_unique=False)
        fill = self.rng.choice(rest, size=max(0, size - len(hard)), replace=False)
        self.last_hard = len(hard)
        return np.concatenate([hard, fill]).astype(np.int64)


def supcon_loss(features: Any, labels: Any, temperature: float = 0.1) -> Any:
    """Supervised contrastive loss (Khosla et al. 2020) over L2-normalised image ``features``.

    Each image's positives are the other images of its artist; anchors without one are left
    out. Returns a scalar tensor (0 when no anchor has a positive).
    """
    import torch

    sims = features @ features.T / temperature
    eye = torch.eye(len(labels), dtype=torch.bool, device=features.device)
    sims = sims.masked_fill(eye, float("-inf"))
    positive = (labels[:, None] == labels[None, :]) & ~eye
    has = positive.any(1)
    if not bool(has.any()):
        return features.sum() * 0.0
    log_prob = sims - torch.logsumexp(sims, dim=1, keepdim=True)
    log_prob = log_prob.masked_fill(~positive, 0.0)
    return -(log_prob.sum(1)[has] / positive.sum(1)[has]).mean()
