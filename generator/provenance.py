"""Signed provenance in the PNGs stylegate writes: embed, read and verify.

Every image the generator writes carries one PNG text chunk (iTXt, zlib-compressed) named
``stylegate.provenance`` holding the canonical JSON (see
:func:`stylegate.governance.audit.entry.canonical_json`) of the **envelope** (schema ``v`` 1)::

    {"v": 1,
     "record": {...},                  # whatever the caller passes: decision, attribution,
                                       # policy hash, model ids, audit_seq, prompt sha256, seed ...
     "pixels_sha256": "<64 hex>",      # see pixels_sha256() below
     "key_id": "<16 hex>",             # signing.key_id(): sha256(raw public key)[:16]
     "public_key": "<64 hex>",         # the raw 32-byte Ed25519 public key
     "signature": "<128 hex>"}         # Ed25519 over signed_message()

**Signed bytes.** ``canonical_json({"v", "record", "pixels_sha256", "key_id"})`` in UTF-8
(the envelope without ``public_key`` and ``signature``). It starts with ``{``, so it can never be
mistaken for an audit checkpoint message, which the same local key signs.

**Pixel hash.** SHA-256 over ``b"stylegate.pixels.v1\\n" + f"{mode} {width} {height}\\n"`` followed
by the pixel bytes, where 8-bit images (modes 1, L, LA, P, RGB, RGBA) are first converted to RGBA
(mode ``RGBA``, 4 bytes per pixel, row-major) and other modes (I;16 ...) are hashed as
``Image.tobytes()`` under their own mode name. Re-encoding the same pixels (another compression
level, RGB written as opaque RGBA, a palette) keeps the hash; changing any pixel breaks it.

**Verification statuses** (:func:`verify_provenance`), checked in this order:

* ``unsigned``: the PNG has no ``stylegate.provenance`` chunk.
* ``tampered-metadata``: the chunk is not a well-formed v1 envelope (bad JSON, duplicate or
  unknown keys, missing or ill-typed fields), or its signature does not verify over its contents:
  the record, pixel hash or key id was changed after signing.
* ``bad-signature``: the signature material itself is unusable: the signature is not 64 bytes of
  hex, the public key is not a valid 32-byte Ed25519 key, or ``key_id`` does not name it.
* ``untrusted-key``: a valid signature, but not by the trusted key the caller named.
* ``tampered-pixels``: the metadata is intact but the pixels (or the frame count) are not the
  ones that were signed.
* ``verified``: all of the above hold. Without ``trusted_public_key`` this only proves the file
  is self-consistent and signed by ``key_id``; pass the local public key
  (``signing.key_paths(home)[1]``) to prove *this* installation made it.

**Unreadable files.** A missing file, a file that is not an image, a truncated or oversized image,
or an image that is not a PNG (provenance is only ever written to PNG) raises
:class:`stylegate.errors.InvalidWork` (exit code 2: the caller handed us a file we cannot check)
rather than returning a status.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Union

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from stylegate.errors import AuditError, InvalidWork, ProvenanceError
from stylegate.governance.audit.entry import canonical_json
from stylegate.governance.audit.signing import (
    Signer,
    load_public_key,
    public_key_raw,
    verify_signature,
)
from stylegate.governance.audit.signing import (
    key_id as public_key_id,
)
from stylegate.registry._fs import atomic_write_bytes

log = logging.getLogger(__name__)

PROVENANCE_KEY = "stylegate.provenance"
PROVENANCE_VERSION = 1
PIXELS_DOMAIN = b"stylegate.pixels.v1\n"

Status = Literal["verified", "unsigned", "tampered-pixels", "tampered-metadata", "bad-signature", "untrusted-key"]
STATUSES: tuple[str, ...] = ("verified", "unsigned", "tampered-pixels", "tampered-metadata", "bad-signature", "untrusted-key")

ImageSource = Union[str, "os.PathLike[str]", Image.Image]

_RGBA_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
_ENVELOPE_KEYS = frozenset({"v", "record", "pixels_sha256", "key_id", "public_key", "signature"})
_SIGNED_KEYS = ("v", "record", "pixels_sha256", "key_id")
_HEX = re.compile(r"[0-9a-f]*")


@dataclass(frozen=True)
class ProvenanceCheck:
    """The outcome of :func:`verify_provenance`. ``record`` is the record as found (``None`` when
    unsigned or unparseable); it is only trustworthy when ``ok``. ``trusted`` is ``None`` when no
    trusted key was given, else whether the signing key is that key."""

    ok: bool
    status: Status
    reason: str
    record: dict[str, Any] | None = None
    key_id: str | None = None
    trusted: bool | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- hashing and signing ----------------------------------------------------------------------


def pixels_sha256(image: Image.Image) -> str:
    """The pixel hash of ``image`` (see the module docstring)."""
    if image.mode in _RGBA_MODES:
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        mode, data = "RGBA", rgba.tobytes()
    else:
        mode, data = image.mode, image.tobytes()
    width, height = image.size
    h = hashlib.sha256(PIXELS_DOMAIN)
    h.update(f"{mode} {width} {height}\n".encode("ascii"))
    h.update(data)
    return h.hexdigest()


def signed_message(envelope: Mapping[str, Any]) -> bytes:
    """The exact bytes the envelope's signature covers."""
    return canonical_json({k: envelope[k] for k in _SIGNED_KEYS}).encode("utf-8")


def build_provenance(image: Image.Image, record: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """The signed envelope for ``image`` and ``record`` (no I/O).

    The record is normalised through canonical JSON (enums to values, tuples to lists ...), so
    the returned ``record`` is exactly what a reader will get back."""
    if not isinstance(record, Mapping):
        raise ProvenanceError(f"the provenance record must be a mapping, not {type(record).__name__}")
    try:
        normalised = json.loads(canonical_json(dict(record)))
    except AuditError as exc:
        raise ProvenanceError(f"the provenance record is not JSON-serialisable: {exc.__cause__ or exc}") from exc
    envelope: dict[str, Any] = {
        "v": PROVENANCE_VERSION,
        "record": normalised,
        "pixels_sha256": pixels_sha256(image),
        "key_id": signer.key_id,
    }
    envelope["public_key"] = public_key_raw(signer.public_key).hex()
    envelope["signature"] = signer.sign(signed_message(envelope)).hex()
    return envelope


# -- writing ----------------------------------------------------------------------------------


def save_with_provenance(
    image: Image.Image, path: str | os.PathLike[str], record: Mapping[str, Any], signer: Signer,
    *, overwrite: bool = True,
) -> dict[str, Any]:
    """Write ``image`` as a PNG at ``path`` with its signed provenance; return the envelope.

    The PNG is encoded in memory, read back and verified (chunk and pixel hash) before it is
    written atomically (temp file beside ``path``, fsync, ``os.replace``): a crash leaves the old
    file or the new one, never a partial or unverifiable PNG. Other metadata of ``image`` is not
    copied. Parent folders are created. Raises :class:`ProvenanceError` when the record is not
    JSON or the image mode cannot be written to PNG losslessly (convert to RGB/RGBA first)."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        log.warning("%s does not end in .png; writing a PNG anyway", target)
    data, envelope = encode_png_with_provenance(image, record, signer, str(target))
    atomic_write_bytes(target, data, overwrite=overwrite)  # overwrite=False: FileExistsError
    log.info("wrote %s with provenance (key %s, pixels %s)", target, envelope["key_id"], envelope["pixels_sha256"][:12])
    return envelope


def encode_png_with_provenance(
    image: Image.Image, record: Mapping[str, Any], signer: Signer, where: str = "<image>"
) -> tuple[bytes, dict[str, Any]]:
    """The PNG bytes of ``image`` with its signed provenance chunk, checked by reading them back."""
    envelope = build_provenance(image, record, signer)
    info = PngImagePlugin.PngInfo()
    info.add_itxt(PROVENANCE_KEY, canonical_json(envelope), zip=True)
    buf = io.BytesIO()
    try:
        image.save(buf, format="PNG", pnginfo=info)
    except (OSError, ValueError, KeyError) as exc:
        raise ProvenanceError(f"cannot encode a {image.mode} image as PNG: {exc}") from exc
    data = buf.getvalue()
    _check_written(data, envelope, where)
    return data, envelope


def _check_written(data: bytes, envelope: Mapping[str, Any], where: str) -> None:
    """Decode the encoded PNG and make sure it reads back as exactly ``envelope``."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            text = _chunk_text(im)
            digest = pixels_sha256(im)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProvenanceError(f"{where}: the encoded PNG cannot be read back: {exc}") from exc
    if text is None or json.loads(text) != envelope:
        raise ProvenanceError(f"{where}: the provenance chunk does not read back intact (too large?)")
    if digest != envelope["pixels_sha256"]:
        raise ProvenanceError(f"{where}: the pixels do not survive PNG encoding; convert the image to RGB or RGBA first")


# -- reading ----------------------------------------------------------------------------------


@contextmanager
def _open_png(source: ImageSource) -> Iterator[tuple[Image.Image, str]]:
    """Yield the fully decoded PNG and a label for messages; InvalidWork when it cannot be."""
    if isinstance(source, Image.Image):
        label = str(getattr(source, "filename", "") or "<image>")
        if source.format not in (None, "PNG"):
            raise InvalidWork(label, f"is a {source.format} image, not a PNG; stylegate provenance is only written to PNG")
        try:
            source.load()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise InvalidWork(label, f"cannot be decoded: {exc}") from exc
        yield source, label
        return
    p = Path(source).expanduser()
    label = str(p)
    try:
        im = Image.open(p)
    except FileNotFoundError as exc:
        raise InvalidWork(label, "no such file") from exc
    except UnidentifiedImageError as exc:
        raise InvalidWork(label, "is not an image (or not a format Pillow can read)") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidWork(label, f"cannot be read: {exc}") from exc
    with im:
        if im.format != "PNG":
            raise InvalidWork(label, f"is a {im.format} image, not a PNG; stylegate provenance is only written to PNG")
        try:
            im.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise InvalidWork(label, f"is a damaged or truncated PNG: {exc}") from exc
        yield im, label


def _chunk_text(im: Image.Image) -> str | None:
    text = getattr(im, "text", None)
    value = text.get(PROVENANCE_KEY) if isinstance(text, Mapping) else None
    if value is None:
        value = im.info.get(PROVENANCE_KEY)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _parse(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_strict_object, parse_constant=_reject_constant)


def read_provenance(source: ImageSource) -> dict[str, Any] | None:
    """The provenance envelope embedded in a PNG, unverified; ``None`` when it has none.

    Raises InvalidWork when the file cannot be read as a PNG or the chunk is not a JSON object."""
    with _open_png(source) as (im, label):
        text = _chunk_text(im)
    if text is None:
        return None
    try:
        value = _parse(text)
    except ValueError as exc:
        raise InvalidWork(label, f"its {PROVENANCE_KEY} metadata is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidWork(label, f"its {PROVENANCE_KEY} metadata is not a JSON object")
    return value


# -- verifying --------------------------------------------------------------------------------


def _is_hex(value: Any, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and _HEX.fullmatch(value) is not None


def _malformed(env: Any) -> str | None:
    """Why ``env`` is not a well-formed v1 envelope (ignoring the key material), or None."""
    if not isinstance(env, dict):
        return "the metadata is not a JSON object"
    missing = sorted(_ENVELOPE_KEYS - env.keys())
    if missing:
        return f"the metadata lacks {', '.join(missing)}"
    extra = sorted(env.keys() - _ENVELOPE_KEYS)
    if extra:
        return f"the metadata has unsigned extra fields: {', '.join(extra)}"
    if type(env["v"]) is not int or env["v"] != PROVENANCE_VERSION:
        return f"unsupported provenance version {env['v']!r} (this stylegate reads v{PROVENANCE_VERSION})"
    if not isinstance(env["record"], dict):
        return "the record is not a JSON object"
    if not _is_hex(env["pixels_sha256"], 64):
        return "pixels_sha256 is not 64 lowercase hex characters"
    return None


def verify_provenance(source: ImageSource, trusted_public_key: Any = None) -> ProvenanceCheck:
    """Check a PNG's provenance: metadata, signature, signer and pixels (see the module docstring).

    ``trusted_public_key`` is anything :func:`signing.load_public_key` accepts (a key, a Signer, PEM
    or raw bytes, a PEM file path). Raises InvalidWork when the file cannot be read as a PNG."""
    trusted = load_public_key(trusted_public_key) if trusted_public_key is not None else None
    with _open_png(source) as (im, label):
        path = None if label == "<image>" else label
        text = _chunk_text(im)
        if text is None:
            return ProvenanceCheck(False, "unsigned", f"no {PROVENANCE_KEY} metadata in this PNG", path=path)
        n_frames = int(getattr(im, "n_frames", 1) or 1)
        digest = pixels_sha256(im)

    def result(status: Status, reason: str, env: Any = None, is_trusted: bool | None = None) -> ProvenanceCheck:
        record = env.get("record") if isinstance(env, dict) and isinstance(env.get("record"), dict) else None
        kid = env.get("key_id") if isinstance(env, dict) and isinstance(env.get("key_id"), str) else None
        check = ProvenanceCheck(status == "verified", status, reason, record, kid, is_trusted, path)
        (log.info if check.ok else log.warning)("%s: provenance %s: %s", label, status, reason)
        return check

    try:
        env = _parse(text)
    except ValueError as exc:
        return result("tampered-metadata", f"the {PROVENANCE_KEY} metadata is not valid JSON: {exc}")
    problem = _malformed(env)
    if problem:
        return result("tampered-metadata", problem, env)

    if not _is_hex(env["signature"], 128):
        return result("bad-signature", "the signature is not 64 bytes of lowercase hex", env)
    if not _is_hex(env["public_key"], 64):
        return result("bad-signature", "the public key is not 32 bytes of lowercase hex", env)
    try:
        public_key = load_public_key(bytes.fromhex(env["public_key"]))
    except ValueError as exc:
        return result("bad-signature", f"the public key is not a valid Ed25519 key: {exc}", env)
    if not isinstance(env["key_id"], str) or env["key_id"] != public_key_id(public_key):
        return result("bad-signature", f"key_id {env['key_id']!r} does not name the embedded public key", env)
    if not verify_signature(public_key, signed_message(env), bytes.fromhex(env["signature"])):
        return result(
            "tampered-metadata",
            "the signature does not verify: the record, pixel hash or key id was changed after signing",
            env,
        )

    is_trusted = None
    if trusted is not None:
        is_trusted = public_key_raw(trusted) == public_key_raw(public_key)
        if not is_trusted:
            return result(
                "untrusted-key",
                f"validly signed by key {env['key_id']}, not by the trusted key {public_key_id(trusted)}",
                env,
                False,
            )
    if n_frames != 1:
        return result("tampered-pixels", f"the PNG has {n_frames} frames; a signed image has one", env, is_trusted)
    if digest != env["pixels_sha256"]:
        return result("tampered-pixels", "the pixels differ from the ones that were signed", env, is_trusted)
    who = f"key {env['key_id']}" + (" (trusted)" if is_trusted else " (no trusted key given)")
    return result("verified", f"signed by {who}; pixels and metadata intact", env, is_trusted)
