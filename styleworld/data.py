"""Rendered StyleWorld datasets as numpy arrays, optionally cached under ``styleworld/data/``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .world import ARTISTS, SUBJECTS, StyleArtist, render

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass
class RenderedSet:
    """Images (N, H, W, 3) uint8 with their ground truth."""

    images: np.ndarray
    artists: np.ndarray  # artist index into ARTISTS (or the roster it was rendered from)
    subjects: np.ndarray  # subject index into SUBJECTS
    seeds: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def grid(seeds: Iterable[int], n_artists: int | None = None) -> list[tuple[int, int, int]]:
    """All (artist_idx, subject_idx, seed) triples for the given seeds (artists 0..n_artists-1 of a roster)."""
    seeds = list(seeds)
    n = len(ARTISTS) if n_artists is None else n_artists
    return [(a, s, seed) for a in range(n) for s in range(len(SUBJECTS)) for seed in seeds]


def render_set(items: Sequence[tuple[int, int, int]], size: int = 64, cache: str | None = None,
               progress: bool = True, roster: Sequence[StyleArtist] = ARTISTS) -> RenderedSet:
    """Render ``items`` (artist_idx into ``roster``, subject_idx, seed); cache to ``data/<cache>.npz`` if named."""
    path = DATA_DIR / f"{cache}_{size}.npz" if cache else None
    if path is not None and path.exists():
        z = np.load(path)
        if len(z["artists"]) == len(items):
            return RenderedSet(z["images"], z["artists"], z["subjects"], z["seeds"])
    from tqdm.auto import tqdm

    imgs = np.empty((len(items), size, size, 3), np.uint8)
    it = tqdm(items, desc=f"render {cache or ''} {size}px", disable=not progress, mininterval=2)
    for i, (a, s, seed) in enumerate(it):
        imgs[i] = np.asarray(render(roster[a], SUBJECTS[s], seed, size=size))
    arr = np.asarray(items, dtype=np.int64).reshape(-1, 3)
    out = RenderedSet(imgs, arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy())
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, images=out.images, artists=out.artists, subjects=out.subjects, seeds=out.seeds)
        logger.info("cached %d renders at %s", len(items), path)
    return out
