"""PNG chunk surgery for the Content Credentials tests: edit pixels or the manifest in place."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == PNG_MAGIC
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def build(parts: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        for kind, payload in parts
    )
    return PNG_MAGIC + body


def with_pixels_of(signed: bytes, image: Image.Image) -> bytes:
    """``signed`` with its IDAT chunks replaced by those of ``image`` (other chunks kept)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    new_idat = [c for c in chunks(buf.getvalue()) if c[0] == b"IDAT"]
    new_ihdr = [c for c in chunks(buf.getvalue()) if c[0] == b"IHDR"]
    out: list[tuple[bytes, bytes]] = []
    placed = False
    for kind, payload in chunks(signed):
        if kind == b"IHDR":
            out.extend(new_ihdr)
        elif kind == b"IDAT":
            if not placed:
                out.extend(new_idat)
                placed = True
        else:
            out.append((kind, payload))
    return build(out)


def manifest_chunk(data: bytes) -> bytes:
    return next(p for k, p in chunks(data) if k == b"caBX")


def replace_manifest(data: bytes, payload: bytes | None) -> bytes:
    """``data`` with its caBX (C2PA) chunk replaced by ``payload``, or removed when None."""
    out = []
    for kind, chunk in chunks(data):
        if kind == b"caBX":
            if payload is not None:
                out.append((kind, payload))
        else:
            out.append((kind, chunk))
    return build(out)
