"""Pixel-level confirmation of near-duplicates, robust to crops.

CLIP vectors say two images share a style and a subject; they cannot tell a copy from a
fresh picture of the same subject in the same style (on StyleWorld both reach 0.99
cosine). A copy keeps its pixel layout up to the geometry of the edit: a crop (resized back
or not) and a resize are, in the coordinates of a fixed-size thumbnail, an axis-aligned
scale and a shift. The check therefore *registers* the query on the stored work before
correlating them:

1. both images become ``SIGNATURE_SIZE`` square grey thumbnails, lightly blurred
   (``BLUR_SIGMA``) so that JPEG blocks and resampling do not count as differences;
2. a coarse search: the query, shrunk by every pair of scales in ``SCALES`` (a crop of up
   to ~24% per axis), is slid over the stored work (OpenCV ``matchTemplate``, normalised
   correlation) at the offsets whose footprint lies inside the stored work; the best scale
   pair and offset start
3. a Gauss-Newton refinement (Lucas-Kanade) of the four parameters (x/y scale, x/y shift,
   no rotation or shear, which copies do not have and which would let a fresh render's
   rotated spiral or shifted stripes align), with a gain and bias fitted at every step
   (colour shifts);
4. a registration whose footprint leaves the stored work (by more than
   ``FOOTPRINT_TOLERANCE``, half a pixel) is no crop -- on an empty background a fresh
   render's shifted subject aligns that way -- and the coarse registration (inside by
   construction: step 2 only tries offsets inside) is kept instead. This is the check that
   the estimated transform is one a copy can have: a resize, a JPEG or a colour shift keeps
   the frame (scale 1, shift 0), a crop resized back shrinks it inside the picture; only a
   different picture needs a whole-frame translation (until round 4 the coarse search let
   the frame move out by up to ``TEMPLATE_MARGIN`` pixels and the refinement by 1 pixel: 4
   of the 6 fresh renders `stylegate bench neardup` flagged at 0.9929 registered on a stored
   work with a footprint 0.5-1 px outside it);
5. the score is the normalised correlation of the query with the registered stored work
   over the part of the query the stored work covers (at least ``MIN_OVERLAP``).

bench/neardup_signatures.py measures it against the old 32x32 thumbnail correlation
(``thumbnail_similarity``) on copies (resize, JPEG, crops up to 20%, colour shifts and their
combinations) and fresh renders of the same artist and subject. Mirror images and rotations
are not caught.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

log = logging.getLogger(__name__)

SIGNATURE_SIZE = 64
BLUR_SIGMA = 0.8
SCALES = tuple(float(s) for s in np.linspace(0.76, 1.0, 5))
TEMPLATE_MARGIN = 2  # pixels dropped around the shrunk query in the coarse search
BORDER = 3  # pixels of the query's border left out of the refinement and the score
MIN_OVERLAP = 0.6
# A copy's footprint lies inside the original: a crop never shows what lies beyond the
# picture's edge. A registration whose footprint leaves the stored work by more than this
# (pixels) is a shifted subject on an empty background -- a fresh render, not a crop. Half a
# pixel: the refinement's error on copies (largest footprint overshoot of a refined copy on
# the 576 training-seed copies: 0.25 px); a 1 px tolerance let 1 px frame shifts through.
FOOTPRINT_TOLERANCE = 0.5
ITERATIONS = 15
THUMBNAIL_SIZE = 32  # the round-1 signature, kept for comparison (bench)


@dataclass(frozen=True)
class Alignment:
    """How the query maps onto the stored work: stored = scale * query + shift (pixels)."""

    score: float
    scale_x: float
    scale_y: float
    shift_x: float
    shift_y: float
    coarse: float  # the best correlation of the coarse search, before refinement

    def detail(self) -> dict[str, float]:
        return {"scale_x": round(self.scale_x, 3), "scale_y": round(self.scale_y, 3),
                "shift_x": round(self.shift_x, 2), "shift_y": round(self.shift_y, 2),
                "coarse": round(self.coarse, 4)}


NO_ALIGNMENT = Alignment(-1.0, 1.0, 1.0, 0.0, 0.0, -1.0)


def pixel_signature(image: Image.Image, size: int = SIGNATURE_SIZE) -> np.ndarray:
    """The grey ``size`` x ``size`` thumbnail of ``image``, blurred, float32 (what is compared)."""
    import cv2
    from PIL import Image

    grey = image.convert("L")
    if grey.size != (size, size):
        grey = grey.resize((size, size), Image.Resampling.BILINEAR)
    g = np.ascontiguousarray(np.asarray(grey, dtype=np.float32))
    return cv2.GaussianBlur(g, (0, 0), BLUR_SIGMA) if BLUR_SIGMA > 0 else g


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / den) if den > 1e-6 else 0.0


def _coarse(query: np.ndarray, stored: np.ndarray) -> tuple[float, np.ndarray]:
    import cv2

    n = query.shape[0]
    m = TEMPLATE_MARGIN
    best, params = -2.0, np.array([1.0, 1.0, 0.0, 0.0])
    for sx in SCALES:
        for sy in SCALES:
            tw, th = int(round(n * sx)), int(round(n * sy))
            template = cv2.resize(query, (tw, th), interpolation=cv2.INTER_AREA)[m:-m, m:-m]
            if float(template.std()) < 1e-3:
                continue
            scores = cv2.matchTemplate(stored, template, cv2.TM_CCOEFF_NORMED)
            # only offsets whose footprint [shift, shift + scale * n] stays inside the stored work
            x0, y0 = max(0, int(np.ceil(m - FOOTPRINT_TOLERANCE))), max(0, int(np.ceil(m - FOOTPRINT_TOLERANCE)))
            x1 = min(scores.shape[1] - 1, int(np.floor(n - tw + m + FOOTPRINT_TOLERANCE)))
            y1 = min(scores.shape[0] - 1, int(np.floor(n - th + m + FOOTPRINT_TOLERANCE)))
            if x1 < x0 or y1 < y0:
                continue
            _, value, _, loc = cv2.minMaxLoc(scores[y0:y1 + 1, x0:x1 + 1])
            loc = (loc[0] + x0, loc[1] + y0)
            if value > best:
                ax, ay = tw / n, th / n
                best, params = float(value), np.array([ax, ay, loc[0] - m, loc[1] - m])  # stored = a * query + t
    return best, params


def _refine(query: np.ndarray, stored: np.ndarray, params: np.ndarray) -> tuple[float, np.ndarray]:
    """Lucas-Kanade on (scale_x, scale_y, shift_x, shift_y) with a gain and bias; (score, params)."""
    import cv2

    n = query.shape[0]
    b = BORDER
    ys, xs = np.mgrid[b:n - b, b:n - b].astype(np.float64)
    xs, ys = xs.ravel() + 0.5, ys.ravel() + 0.5  # pixel centres
    q = query[b:n - b, b:n - b].ravel().astype(np.float64)
    gx = cv2.Sobel(stored, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(stored, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    p = params.astype(np.float64).copy()

    def sample(img: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        return cv2.remap(img, mx.reshape(1, -1), my.reshape(1, -1), cv2.INTER_LINEAR).ravel().astype(np.float64)

    def warp(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mx = (p[0] * xs + p[2] - 0.5).astype(np.float32)
        my = (p[1] * ys + p[3] - 0.5).astype(np.float32)
        return mx, my, (mx >= 0) & (mx <= n - 1) & (my >= 0) & (my <= n - 1)

    for _ in range(ITERATIONS):
        mx, my, ok = warp(p)
        if ok.mean() < MIN_OVERLAP:
            return -1.0, p
        sw, wx, wy = sample(stored, mx, my)[ok], sample(gx, mx, my)[ok], sample(gy, mx, my)[ok]
        qq = q[ok]
        gain, bias = np.linalg.lstsq(np.stack([sw, np.ones_like(sw)], 1), qq, rcond=None)[0]
        jac = gain * np.stack([wx * xs[ok], wy * ys[ok], wx, wy], 1)
        step = np.linalg.lstsq(jac, qq - gain * sw - bias, rcond=None)[0]
        p += step
        if not np.all(np.isfinite(p)) or not (0.5 < p[0] < 1.5 and 0.5 < p[1] < 1.5):
            return -1.0, params
        if np.abs(step[2:]).max() < 1e-3 and np.abs(step[:2]).max() < 1e-5:
            break
    mx, my, ok = warp(p)
    if ok.mean() < MIN_OVERLAP:
        return -1.0, p
    return _ncc(q[ok], sample(stored, mx, my)[ok]), p


def overshoot(params: np.ndarray, n: int) -> float:
    """How far (pixels) the query's footprint ``scale * [0, n] + shift`` leaves the stored work."""
    sx, sy, tx, ty = (float(v) for v in params)
    return max(0.0, -tx, -ty, tx + sx * n - n, ty + sy * n - n)


def align(query: np.ndarray, stored: np.ndarray) -> Alignment:
    """Register ``query`` on ``stored`` (two signatures) and correlate them."""
    if query.shape != stored.shape or query.ndim != 2:
        raise ValueError(f"signatures of different shapes: {query.shape} and {stored.shape}")
    if not (np.isfinite(query).all() and np.isfinite(stored).all()):
        raise ValueError("a signature holds NaN or infinite values")
    if float(query.std()) < 1e-3 or float(stored.std()) < 1e-3:
        return NO_ALIGNMENT  # a flat image carries no layout to compare
    coarse, params = _coarse(query, stored)
    score, p = _refine(query, stored, params)
    if score < coarse or overshoot(p, query.shape[0]) > FOOTPRINT_TOLERANCE:
        score, p = coarse, params  # wandered off, or not a crop: keep the coarse registration
    return Alignment(score, float(p[0]), float(p[1]), float(p[2]), float(p[3]), coarse)


PREFILTER_SIZE = 32
PREFILTER_SCALES = (0.8, 0.9, 1.0)


def prefilter_score(query: np.ndarray, stored: np.ndarray) -> float:
    """A cheap coarse-only registration at half resolution (~1/20 of :func:`align`'s cost),
    to choose which of many CLIP candidates get the full registration."""
    import cv2

    size = (PREFILTER_SIZE, PREFILTER_SIZE)
    q = cv2.resize(query, size, interpolation=cv2.INTER_AREA)
    s = cv2.resize(stored, size, interpolation=cv2.INTER_AREA)
    best = -1.0
    for sx in PREFILTER_SCALES:
        for sy in PREFILTER_SCALES:
            t = cv2.resize(q, (int(round(PREFILTER_SIZE * sx)), int(round(PREFILTER_SIZE * sy))),
                           interpolation=cv2.INTER_AREA)[1:-1, 1:-1]
            if float(t.std()) < 1e-3:
                continue
            best = max(best, float(cv2.matchTemplate(s, t, cv2.TM_CCOEFF_NORMED).max()))
    return best


def pixel_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The near-duplicate score of query signature ``a`` against stored signature ``b``, in [-1, 1]."""
    return align(a, b).score


def thumbnail_similarity(a: Image.Image, b: Image.Image, size: int = THUMBNAIL_SIZE) -> float:
    """Round 1's score: correlation of unregistered 32x32 grey thumbnails (for comparison only)."""
    from PIL import Image

    def thumb(image: Image.Image) -> np.ndarray:
        g = np.asarray(image.convert("L").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32).ravel()
        return g

    return _ncc(thumb(a), thumb(b))
