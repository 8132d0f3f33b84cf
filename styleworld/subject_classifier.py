"""An independent, non-neural subject classifier for StyleWorld images.

Steering must keep the subject while it removes the style, and checking that with the same
CLIP the gate uses would grade the gate with its own ruler. This classifier looks at the
silhouette only, so that palette, stroke pattern, paper and composition (the style) do not
matter:

1. **Foreground.** How far each pixel's colour is from the background, where the background
   is the colours of the 4-pixel border band: the distance to the k-th nearest band colour
   (k = 6% of the band), so a sky and a ground band, a painted frame or a vignette all count
   as background while a subject that reaches into the band stays foreground. Normalised by
   a high percentile (palette-free), then a 3×3 morphological closing fills the gaps between
   a pattern's strokes (dots, hatching, stripes) so the silhouette is solid.
2. **Canonical frame.** The map is resampled to 16×16 around its centroid, at a scale set by
   its spread (found under a Gaussian window that follows the centroid, so stray marks far
   from the subject weigh little), and mirrored so that more mass is on the right (renders
   are flipped at random): position, size and handedness drop out.
3. **Features.** The canonical map, a 4×4-cell HOG of it (8 signed orientations, bins
   centred on the axes), its row
   and column profiles and its occupancy at two levels on a 4×4 grid.

Softmax regression on those features (the same fitting as :mod:`.style_classifier`),
fitted on training-seed renders of every (artist, subject) at the pipeline's 32 px, each
also seen twice degraded the way a small diffusion model's output is (down-and-up sampling
or blur, colour cast, pixel noise). It is never fitted on generated images.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageFilter

from .style_classifier import StyleClassifier

SIZE = 32
BAND = 4  # border band (pixels) whose colours are the background
K_FRAC = 0.06  # background distance: to the k-th nearest band colour, k = K_FRAC of the band
CANON = 16  # side of the canonical silhouette
ORIENTATIONS = 8
AUGMENT = 2  # degraded copies of each training render

_band = np.ones((SIZE, SIZE), bool)
_band[BAND:-BAND, BAND:-BAND] = False
_RING = np.flatnonzero(_band.ravel())[::2]
_YY, _XX = np.mgrid[0:SIZE, 0:SIZE] + 0.5


def _filter3(m: np.ndarray, op: str) -> np.ndarray:
    p = np.pad(m, 1, mode="edge")
    stack = [p[i : i + SIZE, j : j + SIZE] for i in range(3) for j in range(3)]
    return np.max(stack, axis=0) if op == "max" else np.min(stack, axis=0)


def foreground(img: Image.Image) -> np.ndarray:
    """The subject's soft silhouette in [0, 1], SIZE × SIZE."""
    x = np.asarray(img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX), np.float32).reshape(-1, 3) / 255.0
    ring = x[_RING]
    d2 = sum((x[:, c, None] - ring[None, :, c]) ** 2 for c in range(3))
    k = max(1, int(K_FRAC * len(ring)))
    dk = np.sqrt(np.maximum(np.partition(d2, k, axis=1)[:, k], 0.0)).reshape(SIZE, SIZE)
    f = np.clip(dk / (np.percentile(dk, 98) + 1e-3), 0.0, 1.0)
    return _filter3(_filter3(f, "max"), "min")


def _resample(m: np.ndarray, cx: float, cy: float, half: float, n: int) -> np.ndarray:
    """Bilinear samples of ``m`` on an n × n grid over [c - half, c + half] (0 outside)."""
    g = (np.arange(n) + 0.5) / n * 2 - 1
    ys = np.broadcast_to(cy + g[:, None] * half, (n, n)) - 0.5
    xs = np.broadcast_to(cx + g[None, :] * half, (n, n)) - 0.5
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= 0) & (yy < m.shape[0]) & (xx >= 0) & (xx < m.shape[1])
        return np.where(inside, m[np.clip(yy, 0, m.shape[0] - 1), np.clip(xx, 0, m.shape[1] - 1)], 0.0)

    return ((1 - fy) * (1 - fx) * at(y0, x0) + (1 - fy) * fx * at(y0, x0 + 1)
            + fy * (1 - fx) * at(y0 + 1, x0) + fy * fx * at(y0 + 1, x0 + 1))


def canonical(f: np.ndarray) -> np.ndarray:
    """The silhouette centred, scaled by its spread and mirrored to a fixed handedness."""
    cx = cy = SIZE / 2
    spread = SIZE / 4
    for _ in range(3):
        window = np.exp(-((_XX - cx) ** 2 + (_YY - cy) ** 2) / (2 * (1.5 * spread + 4) ** 2))
        w = f ** 2 * window
        total = w.sum() + 1e-6
        cx, cy = float((w * _XX).sum() / total), float((w * _YY).sum() / total)
        spread = float(max(np.sqrt((w * (_XX - cx) ** 2).sum() / total), np.sqrt((w * (_YY - cy) ** 2).sum() / total)))
    c = _resample(f, cx, cy, max(2.1 * spread, 3.0), CANON)
    if (c * (np.arange(CANON) - CANON / 2 + 0.5)[None]).sum() < 0:
        c = c[:, ::-1]
    return c


def _hog(m: np.ndarray, cells: int = 4) -> np.ndarray:
    gy, gx = np.gradient(m)
    magnitude = np.hypot(gx, gy)
    # bins centred on the axes: a flat run's gradient is exactly horizontal or vertical, and at
    # a bin's edge a rounding error would throw it into the opposite bin
    turn = np.mod(np.arctan2(gy, gx) / (2 * np.pi) + 0.5 / ORIENTATIONS, 1.0)
    bins = np.minimum((turn * ORIENTATIONS).astype(int), ORIENTATIONS - 1)
    n = m.shape[0]
    cell = np.minimum(np.arange(n) * cells // n, cells - 1)
    hist = np.zeros((cells, cells, ORIENTATIONS))
    np.add.at(hist, (cell[:, None].repeat(n, 1), cell[None, :].repeat(n, 0), bins), magnitude)
    per_cell = hist.reshape(cells * cells, ORIENTATIONS)
    return (per_cell / (np.linalg.norm(per_cell, axis=1, keepdims=True) + 0.05)).ravel()


def features(img: Image.Image) -> np.ndarray:
    """Palette-, position- and scale-free shape features of one image (float64)."""
    c = canonical(foreground(img))
    q = CANON // 4
    parts = [c.ravel(), _hog(c), c.mean(0), c.mean(1)]
    parts += [(c > level).astype(np.float64).reshape(4, q, 4, q).mean((1, 3)).ravel() for level in (0.3, 0.6)]
    return np.concatenate(parts).astype(np.float64)


def feature_matrix(images: Iterable[Image.Image]) -> np.ndarray:
    return np.stack([features(im) for im in images])


def degrade(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """``img`` as a small diffusion model might draw it: softer (down-and-up sampled or
    blurred), with a colour cast and pixel noise. Used to augment the training renders and
    to measure the classifier at the pipeline's quality; never fitted to generated images."""
    x = img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX)
    r = rng.random()
    if r < 0.4:
        s = int(rng.integers(12, 24))
        x = x.resize((s, s), Image.Resampling.BILINEAR).resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    elif r < 0.8:
        x = x.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 1.5))))
    a = np.asarray(x, np.float32) * rng.uniform(0.85, 1.15, 3) + rng.uniform(-20, 20, 3)
    a = a + rng.normal(0, rng.uniform(0, 14), a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


class SubjectClassifier:
    """Which StyleWorld subject an image shows."""

    def __init__(self, model: StyleClassifier) -> None:
        self.model = model

    @property
    def classes(self) -> list[str]:
        return list(self.model.classes_)

    def predict(self, images: Sequence[Image.Image]) -> list[str]:
        probs = self.model.predict_proba_features(feature_matrix(images))
        return [self.model.classes_[i] for i in probs.argmax(1)]


def _renders(seeds: Iterable[int], size: int) -> tuple[list[Image.Image], list[str]]:
    """Every (artist, subject) rendered at each of ``seeds``, labelled with its subject."""
    from .world import ARTISTS, SUBJECTS, render

    seeds = list(seeds)
    images, labels = [], []
    for artist in ARTISTS:
        for subject in SUBJECTS:
            for seed in seeds:
                images.append(render(artist, subject, seed, size=size))
                labels.append(subject)
    return images, labels


def fit_default(n_seeds: int = 24, size: int = 32, augment: int = AUGMENT) -> SubjectClassifier:
    """Fit on training-split renders of every (artist, subject), at the pipeline's size, each
    also ``augment`` times degraded (:func:`degrade`)."""
    from .world import train_seeds

    images, labels = _renders(train_seeds(n_seeds), size)
    rng = np.random.default_rng(0)
    extra = [degrade(im, rng) for _ in range(augment) for im in images]
    X = feature_matrix(images + extra)
    return SubjectClassifier(StyleClassifier(steps=800).fit_features(X, labels * (1 + augment)))


def heldout_accuracy(classifier: SubjectClassifier, n_seeds: int = 3, size: int = 32, degraded: bool = False) -> float:
    """Accuracy on held-out renders (seeds the classifier never saw); ``degraded``: after
    :func:`degrade` with a fixed seed (the pipeline's quality, roughly)."""
    from .world import heldout_seeds

    images, labels = _renders(heldout_seeds(n_seeds), size)
    if degraded:
        rng = np.random.default_rng(12345)
        images = [degrade(im, rng) for im in images]
    return float(np.mean([p == t for p, t in zip(classifier.predict(images), labels)]))
