"""Work validation: format allow-list, size and pixel limits, truncated and non-image files."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from stylegate.errors import InputError, InvalidWork
from stylegate.registry.testing import random_image, write_image
from stylegate.registry.validation import WorkLimits, validate_bytes, validate_work


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt,name", [("PNG", "a.png"), ("JPEG", "a.jpg"), ("WEBP", "a.webp")])
def test_allowed_formats(tmp_path: Path, fmt: str, name: str) -> None:
    p = write_image(tmp_path / name, seed=1, fmt=fmt, size=(20, 12))
    v = validate_work(p)
    assert (v.format, v.width, v.height) == (fmt, 20, 12)
    assert v.size_bytes == p.stat().st_size and v.data == p.read_bytes()
    assert len(v.sha256) == 64
    rgb = v.to_rgb()
    assert rgb.mode == "RGB" and rgb.size == (20, 12)
    assert v.without_data().data == b""


def test_format_decided_by_content_not_extension(tmp_path: Path) -> None:
    p = write_image(tmp_path / "really-a-png.jpg", seed=2, fmt="PNG")
    assert validate_work(p).format == "PNG"
    q = write_image(tmp_path / "noext", seed=3, fmt="JPEG")
    assert validate_work(q).extension == "jpg"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_rejected(tmp_path: Path, fmt: str) -> None:
    p = write_image(tmp_path / "x.png", seed=4, fmt=fmt)  # disguised by its extension
    with pytest.raises(InvalidWork, match=f"format {fmt} is not allowed") as err:
        validate_work(p)
    assert err.value.path == str(p)
    assert isinstance(err.value, InputError)


def test_format_allow_list_is_configurable(tmp_path: Path) -> None:
    p = write_image(tmp_path / "x.webp", seed=5, fmt="WEBP")
    with pytest.raises(InvalidWork, match="not allowed"):
        validate_work(p, WorkLimits(formats=frozenset({"PNG", "JPEG"})))


def test_non_images_rejected(tmp_path: Path) -> None:
    txt = tmp_path / "notes.png"
    txt.write_text("not an image at all\n")
    with pytest.raises(InvalidWork, match="not an image"):
        validate_work(txt)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(InvalidWork, match="empty"):
        validate_work(empty)
    with pytest.raises(InvalidWork, match="no such file"):
        validate_work(tmp_path / "missing.png")
    with pytest.raises(InvalidWork, match="not a regular file|directory"):
        validate_work(tmp_path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_files_rejected(tmp_path: Path, fmt: str, keep: float) -> None:
    p = write_image(tmp_path / "whole", seed=6, fmt=fmt, size=(48, 48))
    data = p.read_bytes()
    with pytest.raises(InvalidWork, match="truncated|corrupt"):
        validate_bytes(data[: int(len(data) * keep)], "cut")


def test_truncated_rejected_even_if_pil_tolerates_truncation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for fmt in ("PNG", "JPEG"):
        data = write_image(tmp_path / f"w.{fmt}", seed=7, fmt=fmt, size=(48, 48)).read_bytes()
        with pytest.raises(InvalidWork, match="truncated"):
            validate_bytes(data[: len(data) // 2], "cut")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the global is left as found


def test_pixel_bomb_header_rejected_before_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decode(self: object) -> None:
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    with pytest.raises(InvalidWork, match="too large"):
        validate_bytes(_png_claiming(100_000, 100_000), "bomb.png")  # over PIL's own limit too
    with pytest.raises(InvalidWork, match="too large"):
        validate_bytes(_png_claiming(8_000, 6_000), "big.png")  # 48 Mpx > default 40 Mpx


def test_real_image_over_configured_pixel_limit(tmp_path: Path) -> None:
    p = write_image(tmp_path / "a.png", seed=8, size=(40, 30))
    with pytest.raises(InvalidWork, match=r"40x30 = 1200 pixels \(limit 1000\)"):
        validate_work(p, WorkLimits(max_pixels=1000))
    assert validate_work(p, WorkLimits(max_pixels=1200)).width == 40


def test_pil_bomb_warning_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    p = write_image(tmp_path / "a.png", seed=9, size=(12, 12))  # 144 px: PIL warns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InvalidWork, match="decompression bomb"):
            validate_work(p)


def test_size_limit(tmp_path: Path) -> None:
    p = write_image(tmp_path / "a.png", seed=10, size=(32, 32))
    size = p.stat().st_size
    with pytest.raises(InvalidWork, match="too large"):
        validate_work(p, WorkLimits(max_bytes=size - 1))
    assert validate_work(p, WorkLimits(max_bytes=size)).size_bytes == size


def test_transparency_composited_on_white() -> None:
    img = random_image(11, (8, 8), mode="RGBA")  # the smallest work allowed
    img.putalpha(0)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    rgb = validate_bytes(buf.getvalue(), "t.png").to_rgb()
    assert rgb.getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_grey_png_scaled_not_clipped() -> None:
    arr = np.full((8, 8), 32768, dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    v = validate_bytes(buf.getvalue(), "g16.png")
    assert v.to_rgb().getpixel((0, 0)) == (128, 128, 128)


def test_a_decompression_bomb_is_refused_with_the_configured_limit() -> None:
    """Pillow's own limit fires before ours on a huge header: the message still names ours."""
    limits = WorkLimits(max_pixels=12_345_678)
    with pytest.raises(InvalidWork) as caught:
        validate_bytes(_png_claiming(100_000, 100_000), "bomb.png", limits)
    message = str(caught.value)
    assert "12345678" in message and "configured limit" in message
    assert str(Image.MAX_IMAGE_PIXELS) not in message


def test_a_one_pixel_image_is_too_small() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    with pytest.raises(InvalidWork, match=r"too small: 1x1 \(at least 8 pixels on each side\)"):
        validate_bytes(buf.getvalue(), "dot.png")
    assert validate_bytes(buf.getvalue(), "dot.png", WorkLimits(min_side=1)).width == 1
