"""Validation of reference works before they enter the registry.

A work is read once into memory and checked in this order: a regular, non-empty file under the
size limit; a decoded format on the allow-list (PNG, JPEG, WEBP, whatever the file's extension
says); a pixel count from the header under the limit, *before* any pixel is decoded
(decompression bombs); then a full decode, so truncated or corrupt files fail here and not
later in the embedder. Every failure raises :class:`~stylegate.errors.InvalidWork` with a
reason a person can act on.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
import threading
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from stylegate.errors import InvalidWork

log = logging.getLogger(__name__)

#: Decoded PIL format name -> file extension used in the works store.
FORMAT_EXTENSIONS: dict[str, str] = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
#: Extensions picked up when a folder is expanded (explicit files of any name are validated).
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp"})

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
# Smaller than this on a side, an image holds too little to compare a style with (the
# StyleWorld CLIP sees 32 px; real CLIPs 224 px), and a 1×1 "work" protects nothing.
DEFAULT_MIN_SIDE = 8

_TRUNCATION_LOCK = threading.Lock()


@dataclass(frozen=True)
class WorkLimits:
    """What a reference work may be: formats, file size and pixel count."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    formats: frozenset[str] = frozenset(FORMAT_EXTENSIONS)
    min_side: int = DEFAULT_MIN_SIDE

    def __post_init__(self) -> None:
        if int(self.max_bytes) <= 0 or int(self.max_pixels) <= 0:
            raise ValueError("max_bytes and max_pixels must be positive")
        if int(self.min_side) < 1:
            raise ValueError("min_side must be at least 1")
        unknown = set(self.formats) - set(FORMAT_EXTENSIONS)
        if unknown:
            raise ValueError(f"unsupported formats in allow-list: {sorted(unknown)}")


@dataclass(frozen=True)
class ValidatedImage:
    """A work that passed validation, with the bytes that were checked."""

    path: str
    sha256: str
    format: str  # PIL's decoded format name: PNG, JPEG or WEBP
    width: int
    height: int
    size_bytes: int
    data: bytes = field(default=b"", repr=False, compare=False)

    @property
    def extension(self) -> str:
        """File extension for the works store (``png``, ``jpg``, ``webp``)."""
        return FORMAT_EXTENSIONS[self.format]

    def without_data(self) -> ValidatedImage:
        """The same record without the bytes (to keep many in memory)."""
        return replace(self, data=b"")

    def to_rgb(self) -> Image.Image:
        """Decode the bytes into an RGB image (see :func:`to_rgb`)."""
        if not self.data:
            raise ValueError(f"{self.path}: the image bytes were dropped; read the file again")
        return to_rgb(self.data)


def _fail(path: str, reason: str) -> InvalidWork:
    return InvalidWork(path, reason)


def read_limited(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """Read a regular file whole, refusing it when it is larger than ``max_bytes``."""
    shown = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _fail(shown, "not a regular file")
            if st.st_size > max_bytes:
                raise _fail(shown, f"file too large: {st.st_size} bytes (limit {max_bytes})")
            data = fh.read(max_bytes + 1)
    except InvalidWork:
        raise
    except FileNotFoundError:
        raise _fail(shown, "no such file") from None
    except IsADirectoryError:
        raise _fail(shown, "is a directory") from None
    except PermissionError:
        raise _fail(shown, "permission denied") from None
    except OSError as exc:
        raise _fail(shown, f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # the file grew while we read it
        raise _fail(shown, f"file too large: more than {max_bytes} bytes (limit {max_bytes})")
    return data


def validate_work(path: str | os.PathLike[str], limits: WorkLimits | None = None) -> ValidatedImage:
    """Read and validate the file at ``path``; raise :class:`InvalidWork` if it is unusable."""
    limits = limits or WorkLimits()
    data = read_limited(path, limits.max_bytes)
    return validate_bytes(data, os.fspath(path), limits)


def validate_bytes(data: bytes, path: str, limits: WorkLimits | None = None) -> ValidatedImage:
    """Validate image bytes already in memory (``path`` is only used in messages)."""
    limits = limits or WorkLimits()
    if not data:
        raise _fail(path, "empty file")
    if len(data) > limits.max_bytes:
        raise _fail(path, f"file too large: {len(data)} bytes (limit {limits.max_bytes})")

    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        declared = int.from_bytes(data[4:8], "little") + 8
        if len(data) < declared:
            raise _fail(path, f"truncated WEBP file ({len(data)} of {declared} bytes)")
    fmt, width, height = _identify(data, path, limits)
    pixels = width * height
    if width <= 0 or height <= 0:
        raise _fail(path, f"invalid image dimensions {width}x{height}")
    if pixels > limits.max_pixels:
        raise _fail(
            path,
            f"image too large: {width}x{height} = {pixels} pixels (limit {limits.max_pixels}); "
            "refused before decoding",
        )
    if min(width, height) < limits.min_side:
        raise _fail(path, f"image too small: {width}x{height} (at least {limits.min_side} pixels on each side)")
    _check_structure(data, fmt, path)
    _decode_fully(data, fmt, path)
    return ValidatedImage(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        width=width,
        height=height,
        size_bytes=len(data),
        data=bytes(data),
    )


def _identify(data: bytes, path: str, limits: WorkLimits) -> tuple[str, int, int]:
    """Format and size from the header only (no pixel data is decoded here)."""
    allowed = sorted(limits.formats)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=allowed) as img:
                return str(img.format), int(img.size[0]), int(img.size[1])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own limit fired before ours could: quote the configured limit, not Pillow's
            raise _fail(path, f"image too large (decompression bomb): over {limits.max_pixels} pixels "
                              "(the configured limit); refused before decoding") from None
        except UnidentifiedImageError:
            pass
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _fail(path, f"corrupt image header: {exc}") from None
        # Not an allowed format: name what it is, if PIL can tell, for a useful message.
        other: str | None = None
        try:
            with Image.open(io.BytesIO(data)) as img:
                other = img.format
        except Exception:  # noqa: BLE001 - any failure just means "not an image"
            other = None
    if other:
        raise _fail(path, f"format {other} is not allowed (allowed: {', '.join(allowed)})")
    raise _fail(path, f"not an image (or not a supported format: {', '.join(allowed)})")


def _check_structure(data: bytes, fmt: str, path: str) -> None:
    """Cheap container checks that catch truncation even where a decoder would pad."""
    if fmt == "PNG":
        _walk_png_chunks(data, path)


def _walk_png_chunks(data: bytes, path: str) -> None:
    """Follow the PNG chunk lengths up to IEND; a file that ends early is truncated."""
    pos = 8  # signature
    size = len(data)
    while True:
        if pos + 12 > size:
            raise _fail(path, "truncated PNG file (ends before the IEND chunk)")
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > size:
            raise _fail(path, f"truncated PNG file (chunk {ctype.decode('latin-1')!r} cut short)")
        if ctype == b"IEND":
            return
        pos = end


def _decode_fully(data: bytes, fmt: str, path: str) -> None:
    """Decode every pixel with truncated-image tolerance switched off."""
    with _TRUNCATION_LOCK:
        saved = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=[fmt]) as img:
                    img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _fail(path, f"image too large (decompression bomb): {exc}") from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            reason = str(exc) or type(exc).__name__
            if "truncated" in reason.lower():
                raise _fail(path, f"truncated {fmt} file: {reason}") from None
            raise _fail(path, f"corrupt {fmt} data: {reason}") from None
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


def to_rgb(data: bytes) -> Image.Image:
    """Decode validated bytes into an RGB image.

    EXIF orientation is applied; transparent pixels are composited on white so that an
    alpha channel does not turn into arbitrary colours.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=list(FORMAT_EXTENSIONS)) as opened:
            opened.load()
            img: Image.Image = ImageOps.exif_transpose(opened)
            if img.mode.startswith("I") or img.mode == "F":
                img = _gray_to_8bit(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                canvas = Image.new("RGB", rgba.size, (255, 255, 255))
                canvas.paste(rgba, mask=rgba.getchannel("A"))
                return canvas
            return img.convert("RGB")


def _gray_to_8bit(img: Image.Image) -> Image.Image:
    """16-bit / integer / float greyscale to 8-bit L, scaling instead of clipping at 255."""
    arr = np.asarray(img).astype(np.float64)
    if img.mode.startswith("I;16") or (arr.size and arr.max() > 255):
        arr = arr / 257.0
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")


def load_rgb(path: str | os.PathLike[str], limits: WorkLimits | None = None) -> Image.Image:
    """Validate the file at ``path`` and return it as an RGB image."""
    return validate_work(Path(path), limits).to_rgb()
