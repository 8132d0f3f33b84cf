"""The style margin: an artist's normalised style score minus the best *other* artist's.

Two registered artists one attribute apart (StyleWorld's siblings) put each other's pictures
near their own: on the normalised score (:mod:`.style_norm`) a sibling's render reaches its
parent's threshold almost as often as the parent's own renders, so one absolute threshold either
flags the parent on the sibling's pictures or misses both. What tells them apart is which of the
two a picture is *closer* to. The margin keeps that: ``margin(a) = norm(a) - max over b != a of
norm(b)``. Positive for at most one artist; a picture of neither artist's style has a small or
negative margin for all of them, so the threshold still answers "is it this artist's style".

The gate takes the best other artist among the image's candidates (the artists of its k nearest
works: any other artist has no work that close); calibration takes it over every artist.
``style_score = "margin"`` in the policy selects it; `stylegate calibrate` writes it when it
rejects fewer true matches than the normalised score at the same false-accept target.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def margins(scores: Mapping[int, float]) -> dict[int, tuple[float, int | None]]:
    """Each artist's margin over the best other artist of ``scores`` and that artist (None when
    alone: then its margin is its own score, the level of a typical other artist's work being 0)."""
    out: dict[int, tuple[float, int | None]] = {}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    for artist, score in scores.items():
        rival = next(((a, s) for a, s in ranked if a != artist), None)
        out[artist] = (score, None) if rival is None else (score - rival[1], rival[0])
    return out


def margin_scores(positives: np.ndarray, negative: np.ndarray, own_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibration's style scores as margins.

    ``positives`` (one per work, against its own artist) and ``negative`` (works x artists,
    ``-inf`` in the work's own column ``own_col``) are normalised scores. A work's margin for its own artist
    is its score minus its best other artist's; for another artist ``b``, ``b``'s score minus
    the best of the rest, its own artist included.
    """
    full = negative.copy()
    rows = np.arange(len(positives))
    full[rows, own_col] = positives
    order = np.argsort(-full, axis=1)
    best = full[rows, order[:, 0]]
    second = full[rows, order[:, 1]] if full.shape[1] > 1 else np.full(len(rows), -np.inf)
    # the best other artist of column j: the second best where j is the best, else the best
    rival = np.where(order[:, [0]] == np.arange(full.shape[1])[None, :], second[:, None], best[:, None])
    rival = np.where(np.isfinite(rival), rival, 0.0)
    out_neg = np.where(np.isfinite(negative), negative - rival, -np.inf)
    return positives - rival[rows, own_col], out_neg
