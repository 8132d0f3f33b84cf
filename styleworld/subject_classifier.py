"""An independent, non-neural subject classifier for StyleWorld images.

Steering must keep the subject while it removes the style, and checking that with the same
CLIP the gate uses would grade the gate with its own ruler. This classifier looks at shape
only: how far each pixel is from the picture's background colour (estimated from the border),
normalised so that palettes do not matter, summarised as foreground masks at three levels on
an 8×8 grid, the smoothed distance map, and a 3×3 histogram of its gradient orientations.
Softmax regression on those features (the same fitting as :mod:`.style_classifier`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image

from .style_classifier import StyleClassifier

SIZE = 32
LEVELS = (0.2, 0.4, 0.6)
ORIENTATIONS = 6


def features(img: Image.Image) -> np.ndarray:
    """Palette-free shape features of one image (float64)."""
    x = np.asarray(img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX), np.float32) / 255.0
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    distance = np.linalg.norm(x - np.median(border, axis=0), axis=2)
    distance = distance / (distance.max() + 1e-6)
    parts = [(distance > level).astype(np.float32).reshape(8, 4, 8, 4).mean((1, 3)).ravel() for level in LEVELS]
    parts.append(distance.reshape(8, 4, 8, 4).mean((1, 3)).ravel())
    coarse = distance.reshape(16, 2, 16, 2).mean((1, 3))
    gx = np.diff(coarse, axis=1)[:-1, :]
    gy = np.diff(coarse, axis=0)[:, :-1]
    magnitude = np.hypot(gx, gy)
    bins = np.minimum((np.mod(np.arctan2(gy, gx), np.pi) / np.pi * ORIENTATIONS).astype(int), ORIENTATIONS - 1)
    cells = np.minimum(np.arange(15) // 5, 2)
    hist = np.zeros((3, 3, ORIENTATIONS))
    np.add.at(hist, (cells[:, None].repeat(15, 1), cells[None, :].repeat(15, 0), bins), magnitude)
    parts.append(hist.ravel() / (hist.sum() + 1e-6))
    return np.concatenate(parts).astype(np.float64)


def feature_matrix(images: Iterable[Image.Image]) -> np.ndarray:
    return np.stack([features(im) for im in images])


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


def fit_default(n_seeds: int = 24, size: int = 32) -> SubjectClassifier:
    """Fit on training-split renders of every (artist, subject), at the pipeline's size."""
    from .world import train_seeds

    images, labels = _renders(train_seeds(n_seeds), size)
    return SubjectClassifier(StyleClassifier().fit_features(feature_matrix(images), labels))


def heldout_accuracy(classifier: SubjectClassifier, n_seeds: int = 3, size: int = 32) -> float:
    """Accuracy on held-out renders (seeds the classifier never saw)."""
    from .world import heldout_seeds

    images, labels = _renders(heldout_seeds(n_seeds), size)
    return float(np.mean([p == t for p, t in zip(classifier.predict(images), labels)]))
