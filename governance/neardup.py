"""Pixel-level confirmation of near-duplicates.

CLIP vectors say two images share a style and a subject; they cannot tell a copy from a
fresh picture of the same subject in the same style (on StyleWorld both reach 0.99
cosine). A copy, recompressed or resized, keeps its pixel layout: the correlation of small
grey thumbnails stays above 0.99, while fresh renders of the same artist and subject stay
at or below 0.982 (bench/calibrate_image.py). Crops and mirror images are not caught.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

SIGNATURE_SIZE = 32


def pixel_signature(image: "Image.Image", size: int = SIGNATURE_SIZE) -> np.ndarray:
    """A unit-length, mean-removed grey thumbnail of ``image``."""
    from PIL import Image

    grey = np.asarray(image.convert("L").resize((size, size), Image.BILINEAR), dtype=np.float32).ravel()
    grey -= grey.mean()
    norm = float(np.linalg.norm(grey))
    return grey / norm if norm > 1e-6 else grey


def pixel_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two signatures, in [-1, 1] (0 for flat images)."""
    return float(np.dot(a, b))
