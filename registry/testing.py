"""Helpers for tests: small images on disk and a deterministic fake embedder.

The fake embedder maps an image's pixels to a pseudo-random unit vector (a hash of the
pixels seeds the generator), so identical images embed identically and different ones almost
orthogonally. It stands in for CLIP wherever the registry only needs *some* embedding.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

TEST_IDENTITY_MODEL = "fake-pixel-hash"


def fake_identity(dim: int = 16) -> dict:
    """An embedder identity dict for :func:`fake_embedder`."""
    return {"model": TEST_IDENTITY_MODEL, "checkpoint_sha256": "0" * 64, "dim": dim}


def fake_embedder(dim: int = 16) -> Callable[[list[Image.Image]], np.ndarray]:
    """``embed_images`` stand-in: pixel hash -> unit float32 vector of length ``dim``."""

    def embed(images: list[Image.Image]) -> np.ndarray:
        out = np.empty((len(images), dim), dtype=np.float32)
        for row, img in enumerate(images):
            rgb = img.convert("RGB")
            digest = hashlib.sha256(rgb.tobytes() + repr(rgb.size).encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            v = rng.standard_normal(dim)
            out[row] = v / np.linalg.norm(v)
        return out

    return embed


def random_image(seed: int, size: tuple[int, int] = (24, 24), mode: str = "RGB") -> Image.Image:
    """A small image of random pixels, the same for the same seed."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4}[mode]
    arr = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(arr, mode)


def write_image(
    path: str | os.PathLike[str], seed: int, fmt: str = "PNG", size: tuple[int, int] = (24, 24)
) -> Path:
    """Write :func:`random_image` to ``path`` in ``fmt`` (PNG, JPEG, WEBP, GIF, BMP...)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    img = random_image(seed, size)
    kwargs = {"lossless": True} if fmt.upper() == "WEBP" else {}
    img.save(p, format=fmt, **kwargs)
    return p
