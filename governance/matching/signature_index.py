"""A second candidate source for the near-duplicate check: a FAISS index of window thumbnails.

CLIP finds the works that look *alike*; it is not built to find the work an image was *copied
from*: a crop plus a colour shift moves a copy's CLIP vector enough that, on StyleWorld, its
source can rank 20th or 49th. This index looks for the source by pixel layout instead.

Each stored work's pixel signature (:func:`.neardup.pixel_signature`) gives 169 sub-windows
-- every pair of axis scales in ``WINDOW_SCALES`` at the start, middle and end of the slack on
each axis -- the regions a crop of up to ~20% per axis, resized back, would show (three scales
instead of five found a crop's source among the 8 best of 24 same-subject renders 97% of the
time instead of 100%). Each window
becomes a ``CODE_SIZE`` x ``CODE_SIZE`` grey code with its mean removed and unit norm, so the
inner product of two codes is their normalised correlation: unchanged by a colour gain and bias,
and at this resolution by JPEG and resampling. The query's code (its whole signature) is searched
against every window; a work scores its best window. The candidates found are added to CLIP's
and confirmed by the same registration (:func:`.neardup.align`).

Cost: 169 codes of 144 fp16 values (49 KB) per work, and a search scans them all (a flat
index): well under a millisecond for hundreds of works, tens of milliseconds at 10^4.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CODE_SIZE = 12
WINDOW_SCALES = (0.8, 0.85, 0.9, 0.95, 1.0)
_ANCHORS = (0.0, 0.5, 1.0)  # where a smaller window sits within the slack, per axis


def _axis_windows(n: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s in WINDOW_SCALES:
        length = int(round(n * s))
        slack = n - length
        starts = sorted({int(round(slack * a)) for a in _ANCHORS}) if slack else [0]
        out.extend((start, start + length) for start in starts)
    return out


def _code(grey: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(grey, (CODE_SIZE, CODE_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    small -= small.mean()
    norm = float(np.linalg.norm(small))
    return small / norm if norm > 1e-6 else np.zeros_like(small)  # a flat image matches nothing


def query_code(signature: np.ndarray) -> np.ndarray:
    """The code of a query's whole signature."""
    return _code(signature)


def window_codes(signature: np.ndarray) -> np.ndarray:
    """The codes of a stored signature's crop windows, (windows, CODE_SIZE**2) float32."""
    h, w = signature.shape
    codes = [_code(signature[y0:y1, x0:x1]) for y0, y1 in _axis_windows(h) for x0, x1 in _axis_windows(w)]
    return np.stack(codes).astype(np.float32)


class SignatureIndex:
    """Window codes of stored works in a FAISS inner-product index; search returns works."""

    def __init__(self, signatures: Iterable[tuple[int, np.ndarray]]) -> None:
        import faiss

        owners: list[np.ndarray] = []
        blocks: list[np.ndarray] = []
        for work_id, signature in signatures:
            codes = window_codes(signature)
            blocks.append(codes)
            owners.append(np.full(len(codes), work_id, dtype=np.int64))
        # fp16 codes: half the memory of float32, and no training (codes lie in [-1, 1])
        self.index: Any = faiss.IndexScalarQuantizer(CODE_SIZE * CODE_SIZE, faiss.ScalarQuantizer.QT_fp16,
                                                     faiss.METRIC_INNER_PRODUCT)
        self.owners = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        if blocks:
            self.index.add(np.concatenate(blocks))
        self.works = len(blocks)
        self.windows_per_work = len(blocks[0]) if blocks else 0

    def __len__(self) -> int:
        return self.works

    def search(self, signature: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` works whose best window correlates most with the query: (work id, score)."""
        if self.works == 0 or k <= 0:
            return []
        code = query_code(signature)
        if not code.any():
            return []
        # A work's windows rank together: 16 rows per work asked for usually cover k works;
        # if not, every row that could (k works' worth of windows).
        for n in (min(self.index.ntotal, 16 * k), min(self.index.ntotal, k * self.windows_per_work)):
            scores, rows = self.index.search(code.reshape(1, -1), n)
            best: dict[int, float] = {}
            for row, score in zip(rows[0].tolist(), scores[0].tolist()):
                if row < 0:
                    continue
                work_id = int(self.owners[row])
                if work_id not in best:
                    best[work_id] = float(score)
                    if len(best) == k:
                        return list(best.items())
            if n == self.index.ntotal:
                break
        return list(best.items())
