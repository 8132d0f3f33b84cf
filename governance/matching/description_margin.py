"""The description margin: an artist's description score minus the best *other* artist's.

A prompt describing one of two look-alike styles (StyleWorld's siblings, one attribute apart)
scores almost as high for the other one, and the shared words ("speckled", "ochre") lift every
artist who uses them; an absolute threshold high enough to keep ordinary prompts out then
misses most true descriptions. What picks the described artist is which one the prompt is
*closest* to. ``margin(a) = score(a) - max over b != a of score(b)``: positive for at most one
artist, small or negative for all when a prompt describes nobody in particular. An artist alone
in the registry keeps its own score (the neutral anchor's level, 0, stands in for the rival).

``description_score = "margin"`` in the policy selects it; `stylegate calibrate` fits it beside
the plain score and writes it when it rejects fewer described prompts at the same false-positive
target on the shipped ordinary prompts.
"""

from __future__ import annotations

import numpy as np


def rivals(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a ``rows x artists`` score matrix: each cell's best other column (its score and its
    column index; 0.0 and -1 when there is no other column)."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    rows, cols = s.shape
    if cols < 2:
        return np.zeros_like(s), np.full(s.shape, -1, np.int64)
    top2 = np.argsort(-s, axis=1, kind="stable")[:, :2]
    first, second = top2[:, 0], top2[:, 1]
    r = np.arange(rows)
    is_top = np.arange(cols)[None, :] == first[:, None]
    value = np.where(is_top, s[r, second][:, None], s[r, first][:, None])
    index = np.where(is_top, second[:, None], first[:, None])
    return value, index.astype(np.int64)


def margin_matrix(scores: np.ndarray) -> np.ndarray:
    """Each cell minus the best other column of its row (the cell itself when alone)."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    return s - rivals(s)[0]
