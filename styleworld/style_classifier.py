"""A non-neural style classifier: hand-made palette and texture statistics + softmax regression.

It is independent of the tiny CLIP and of the diffusion model, so it can judge whether a
generated image carries an artist's style. Features are computed on the image resized
to 32x32 (box filter):

* colour histogram (4 levels per channel, 64 bins) and per-channel mean / std;
* luminance histogram (8 bins);
* gradient statistics: magnitude histogram, magnitude-weighted orientation histogram,
  mean absolute horizontal / vertical differences;
* Fourier power of the luminance in radial x orientation bands (log, normalised).

The model is multinomial logistic regression fitted by full-batch gradient descent in numpy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

FEATURE_SIZE = 32


def _as_array(img: Image.Image | np.ndarray) -> np.ndarray:
    """Image -> float32 (32, 32, 3) in [0, 1]."""
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img.astype(np.uint8) if img.dtype != np.uint8 else img)
    img = img.convert("RGB")
    if img.size != (FEATURE_SIZE, FEATURE_SIZE):
        img = img.resize((FEATURE_SIZE, FEATURE_SIZE), Image.Resampling.BOX)
    return np.asarray(img, np.float32) / 255.0


def _fft_masks(n: int) -> list[np.ndarray]:
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    r = np.hypot(fx, fy)
    th = np.mod(np.arctan2(fy, fx), np.pi)
    masks = []
    radial = [0.02, 0.08, 0.14, 0.2, 0.28, 0.36, 0.5]
    for lo, hi in zip(radial[:-1], radial[1:]):
        for k in range(4):
            o = (th >= k * np.pi / 4) & (th < (k + 1) * np.pi / 4)
            masks.append((r >= lo) & (r < hi) & o)
    return masks


_MASKS = _fft_masks(FEATURE_SIZE)


def features(img: Image.Image | np.ndarray) -> np.ndarray:
    """Palette and texture feature vector of one image (float64)."""
    x = _as_array(img)
    q = np.minimum((x * 4).astype(np.int64), 3)
    idx = q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]
    chist = np.bincount(idx.ravel(), minlength=64) / idx.size
    mean = x.reshape(-1, 3).mean(0)
    std = x.reshape(-1, 3).std(0)
    lum = x @ np.array([0.299, 0.587, 0.114], np.float32)
    lhist = np.histogram(lum, bins=8, range=(0, 1))[0] / lum.size
    gx = np.diff(lum, axis=1)[:-1, :]
    gy = np.diff(lum, axis=0)[:, :-1]
    mag = np.hypot(gx, gy)
    mhist = np.histogram(mag, bins=[0, 0.02, 0.05, 0.1, 0.2, 0.35, 2.0])[0] / mag.size
    ori = np.mod(np.arctan2(gy, gx), np.pi)
    ohist = np.histogram(ori, bins=8, range=(0, np.pi), weights=mag)[0]
    ohist = ohist / (ohist.sum() + 1e-6)
    grad = [np.abs(gx).mean(), np.abs(gy).mean(), mag.mean(), mag.std()]
    spec = np.abs(np.fft.fft2(lum - lum.mean())) ** 2
    bands = np.array([spec[m].sum() for m in _MASKS])
    bands = np.log1p(bands / (bands.sum() + 1e-6) * 100)
    return np.concatenate([chist * 4, mean, std, lhist, mhist, ohist, grad, bands]).astype(np.float64)


def feature_matrix(images: Iterable[Image.Image | np.ndarray]) -> np.ndarray:
    """Stack :func:`features` of several images."""
    return np.stack([features(im) for im in images])


@dataclass
class StyleClassifier:
    """Softmax regression on :func:`features`; labels are artist names (or any strings)."""

    l2: float = 1e-3
    steps: int = 600
    lr: float = 0.5
    classes_: list[str] = field(default_factory=list)
    mu_: np.ndarray | None = None
    sd_: np.ndarray | None = None
    W_: np.ndarray | None = None
    b_: np.ndarray | None = None

    def fit(self, images: Sequence[Image.Image | np.ndarray], labels: Sequence[str]) -> StyleClassifier:
        """Fit on images and their labels."""
        return self.fit_features(feature_matrix(images), labels)

    def fit_features(self, X: np.ndarray, labels: Sequence[str]) -> StyleClassifier:
        """Fit on a precomputed feature matrix."""
        self.classes_ = sorted(set(labels))
        y = np.array([self.classes_.index(lbl) for lbl in labels])
        self.mu_ = X.mean(0)
        self.sd_ = X.std(0) + 1e-6
        Z = (X - self.mu_) / self.sd_
        n, d = Z.shape
        k = len(self.classes_)
        Y = np.eye(k)[y]
        W = np.zeros((d, k))
        b = np.zeros(k)
        m_w, v_w = np.zeros_like(W), np.zeros_like(W)
        for t in range(1, self.steps + 1):  # Adam on the convex softmax loss
            P = _softmax(Z @ W + b)
            G = (P - Y) / n
            gw = Z.T @ G + self.l2 * W
            gb = G.sum(0)
            m_w = 0.9 * m_w + 0.1 * gw
            v_w = 0.999 * v_w + 0.001 * gw ** 2
            W -= self.lr * 0.1 * (m_w / (1 - 0.9 ** t)) / (np.sqrt(v_w / (1 - 0.999 ** t)) + 1e-8)
            b -= self.lr * gb
        self.W_, self.b_ = W, b
        return self

    def predict_proba(self, images: Sequence[Image.Image | np.ndarray]) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        return self.predict_proba_features(feature_matrix(images))

    def predict_proba_features(self, X: np.ndarray) -> np.ndarray:
        if self.W_ is None:
            raise RuntimeError("StyleClassifier is not fitted")
        return _softmax(((X - self.mu_) / self.sd_) @ self.W_ + self.b_)

    def predict(self, images: Sequence[Image.Image | np.ndarray]) -> list[str]:
        """Most likely label of each image."""
        return [self.classes_[i] for i in self.predict_proba(images).argmax(1)]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_default(n_seeds: int = 24, sizes: tuple[int, ...] = (32, 64)) -> StyleClassifier:
    """Fit the classifier on training-split renders of every (artist, subject) at ``sizes``."""
    from .data import grid, render_set
    from .world import ARTISTS

    X, y = [], []
    for size in sizes:
        rs = render_set(grid(range(n_seeds)), size=size, cache=None, progress=False)
        X.append(feature_matrix(rs.images))
        y += [ARTISTS[a].name for a in rs.artists]
    return StyleClassifier().fit_features(np.concatenate(X), y)
