"""open_clip's inference image transform with PIL and numpy (no torch, no torchvision).

open_clip's eval transform for a square model input is: resize the shorter side to the input
size (bicubic or bilinear, PIL's resampling, which torchvision calls for PIL images), centre
crop, RGB, scale to [0, 1], normalise by the model's mean and std. :func:`describe` reads
those parameters off an open_clip transform (refusing any other shape of transform), and
:class:`ClipPreprocess` replays them, so the ONNX backend's pixels equal the PyTorch path's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

INTERPOLATIONS = ("bicubic", "bilinear")


class UnsupportedTransform(ValueError):
    """The model's preprocessing is not the plain resize-crop-normalise this module replays."""


@dataclass(frozen=True)
class ClipPreprocess:
    size: int
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipPreprocess:
        interpolation = str(data["interpolation"])
        if interpolation not in INTERPOLATIONS:
            raise UnsupportedTransform(f"interpolation {interpolation!r}")
        mean, std = tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"])
        if len(mean) != 3 or len(std) != 3:
            raise UnsupportedTransform("mean and std need three channels")
        return cls(int(data["size"]), interpolation, mean, std)

    def __call__(self, image: Image.Image) -> np.ndarray:
        """One image → ``float32`` array of shape ``(3, size, size)``."""
        from PIL import Image

        image = image.convert("RGB")
        width, height = image.size
        short, long = min(width, height), max(width, height)
        new_short, new_long = self.size, int(self.size * long / short)
        new_size = (new_short, new_long) if width <= height else (new_long, new_short)
        if new_size != image.size:
            resample = Image.Resampling.BICUBIC if self.interpolation == "bicubic" else Image.Resampling.BILINEAR
            image = image.resize(new_size, resample)
        width, height = image.size
        top = int(round((height - self.size) / 2.0))
        left = int(round((width - self.size) / 2.0))
        image = image.crop((left, top, left + self.size, top + self.size))
        pixels = np.asarray(image, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
        pixels = pixels.transpose(2, 0, 1)
        mean = np.asarray(self.mean, np.float32)[:, None, None]
        std = np.asarray(self.std, np.float32)[:, None, None]
        return np.ascontiguousarray((pixels - mean) / std, dtype=np.float32)

    def batch(self, images: list[Image.Image]) -> np.ndarray:
        return np.stack([self(im) for im in images]) if images else np.zeros((0, 3, self.size, self.size), np.float32)


def describe(transform: Any) -> ClipPreprocess:
    """The parameters of an open_clip eval transform, or :class:`UnsupportedTransform`."""
    steps = list(getattr(transform, "transforms", []))
    names = [type(t).__name__ for t in steps]
    if names != ["Resize", "CenterCrop", "MaybeConvertMode", "MaybeToTensor", "Normalize"]:
        raise UnsupportedTransform(f"transform steps {names}")
    resize, crop, _, _, normalize = steps
    if not isinstance(resize.size, int) or getattr(resize, "max_size", None) is not None:
        raise UnsupportedTransform(f"resize to {resize.size!r} (max_size {getattr(resize, 'max_size', None)!r})")
    if tuple(crop.size) != (resize.size, resize.size):
        raise UnsupportedTransform(f"crop {crop.size!r} after resize {resize.size!r}")
    interpolation = str(getattr(resize.interpolation, "value", resize.interpolation))
    return ClipPreprocess.from_dict(
        {"size": resize.size, "interpolation": interpolation, "mean": list(normalize.mean), "std": list(normalize.std)}
    )
