"""C2SP signed notes and transparency-log checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint).

A signed note is a text ending in a newline, a blank line, then one or more signature lines
``— <key name> <base64(4-byte key ID || signature)>``. A checkpoint is a note whose text is
three lines: the log's origin, the decimal tree size and the base64 RFC 6962 root hash
(optionally followed by extension lines, which stylegate never writes: the spec advises
against them). Only Ed25519 (signature type ``0x01``) is supported, with the standard key ID
``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` and verifier keys written
``<name>+<8 hex key ID>+<base64(0x01 || public key)>``, the form Go's ``GOSUMDB`` accepts.

Verifiers never answer a bare bool: :func:`verify_note` and :func:`verify_checkpoint` return a
:class:`~stylegate.governance.audit.verdict.Verdict` whose ``reason`` says why a note was
refused (``malformed``, ``unknown_key``, ``bad_signature``, ``origin_mismatch``, ``bad_size``,
``root_mismatch``).

The notes themselves are pure Python over ``cryptography`` with no database. At the end:
:class:`Checkpoint`, the signed tree head as the audit log stores it, with the origin and
verifier key derived from the workspace's signing key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from stylegate.errors import NoteError

from . import signing
from .verdict import Reason, Verdict, accept, refuse

log = logging.getLogger(__name__)

SIG_TYPE_ED25519 = 0x01
EM_DASH = "\u2014"
MAX_SIGNATURES = 64  # the spec asks verifiers to accept at least 16
MAX_NOTE_BYTES = 1 << 20

_HEX8 = re.compile(r"[0-9a-f]{8}")
_SIZE = re.compile(r"0|[1-9][0-9]*")


def _b64decode_strict(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise NoteError(f"{what} is not standard base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _check_key_name(name: str) -> None:
    if not name or any(ch.isspace() for ch in name) or "+" in name:
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes, sig_type: int = SIG_TYPE_ED25519) -> int:
    """The standard key ID: the first 4 bytes (big-endian) of SHA-256(name || 0x0A || type || key)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A trusted Ed25519 note key: its name, key ID and 32-byte public key."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey | bytes) -> Verifier:
        _check_key_name(name)
        raw = public_key if isinstance(public_key, bytes) else _raw_public(public_key)
        if len(raw) != 32:
            raise NoteError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
        return cls(name, key_id(name, raw), raw)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Read ``<name>+<hex key ID>+<base64(0x01 || key)>``; the key ID must match the key."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<hex key id>+<base64 key>")
        name, hex_id, b64 = parts
        _check_key_name(name)
        if not _HEX8.fullmatch(hex_id):
            raise NoteError(f"verifier key ID {hex_id!r} is not 8 lowercase hex digits")
        blob = _b64decode_strict(b64, "the verifier key")
        if len(blob) != 33 or blob[0] != SIG_TYPE_ED25519:
            raise NoteError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
        verifier = cls(name, int(hex_id, 16), blob[1:])
        if key_id(name, verifier.public_key) != verifier.key_id:
            raise NoteError(f"verifier key ID {hex_id} does not match the key and name")
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public_key)
        except ValueError as exc:
            raise NoteError("the verifier key is not a valid Ed25519 point") from exc
        return verifier

    def __str__(self) -> str:
        blob = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{blob}"

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    signature: bytes


@dataclass(frozen=True)
class Note:
    """A parsed (not yet verified) signed note: ``text`` includes its final newline."""

    text: str
    signatures: tuple[Signature, ...]


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """``text`` (which must end in a newline) signed by ``name``'s Ed25519 key, as a note."""
    _check_key_name(name)
    _check_text(text)
    raw = _raw_public(private_key.public_key())
    sig = private_key.sign(text.encode("utf-8"))
    blob = base64.b64encode(struct.pack(">I", key_id(name, raw)) + sig).decode("ascii")
    return f"{text}\n{EM_DASH} {name} {blob}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("the note text must end in a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise NoteError("the note contains a control character other than newline")


def parse_note(note: str | bytes) -> Note:
    """Split a note into its text and signature lines; :class:`NoteError` when malformed."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise NoteError("the note is too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("the note is not valid UTF-8") from exc
    if len(note) > MAX_NOTE_BYTES:
        raise NoteError("the note is too large")
    _check_text(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no blank line before its signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    lines = sig_block.split("\n")
    if lines[-1] != "" or len(lines) < 2:
        raise NoteError("the note has no signature lines")
    lines = lines[:-1]
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise NoteError(f"signature line {line[:40]!r} does not start with an em dash and a space")
        fields = line[len(prefix) :].split(" ")
        if len(fields) != 2:
            raise NoteError(f"signature line {line[:40]!r} is not '— <name> <base64>'")
        name, b64 = fields
        _check_key_name(name)
        blob = _b64decode_strict(b64, f"the signature by {name}")
        if len(blob) < 5:
            raise NoteError(f"the signature by {name} is too short")
        signatures.append(Signature(name, int(struct.unpack(">I", blob[:4])[0]), blob[4:]))
    return Note(text, tuple(signatures))


@dataclass
class NoteResult(Verdict):
    """Why a note was accepted or refused; ``signers`` are the verifier keys that checked out."""

    text: str = ""
    signers: list[str] = field(default_factory=list)


def verify_note(note: str | bytes | Note, verifiers: Iterable[Verifier]) -> NoteResult:
    """Check ``note`` against trusted ``verifiers`` as the spec says.

    Signatures from unknown keys (name and key ID not both matching) are ignored; a known key's
    signature that fails rejects the whole note; at least one known signature must verify.
    """
    try:
        parsed = note if isinstance(note, Note) else parse_note(note)
    except NoteError as exc:
        return NoteResult(False, Reason.MALFORMED, str(exc))
    known = {(v.name, v.key_id): v for v in verifiers}
    message = parsed.text.encode("utf-8")
    signers: list[str] = []
    for sig in parsed.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verifies(message, sig.signature):
            return NoteResult(False, Reason.BAD_SIGNATURE, f"the signature by {sig.name} ({sig.key_id:08x}) does not verify", parsed.text)
        signers.append(str(verifier))
    if not signers:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in parsed.signatures)
        return NoteResult(False, Reason.UNKNOWN_KEY, f"no signature is by a trusted key (signed by {names})", parsed.text)
    return NoteResult(True, Reason.OK, "", parsed.text, signers)


# ---------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        return format_checkpoint(self.origin, self.size, self.root, self.extensions)


def format_checkpoint(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The checkpoint note text: origin, decimal size, base64 root (each line newline-terminated)."""
    if not origin or "\n" in origin:
        raise NoteError("the origin must be one non-empty line")
    if size < 0:
        raise NoteError("the tree size cannot be negative")
    if len(root) != 32:
        raise NoteError(f"an RFC 6962 SHA-256 root is 32 bytes, got {len(root)}")
    lines = [origin, str(int(size)), base64.b64encode(root).decode("ascii"), *extensions]
    if any(not line or "\n" in line for line in lines[3:]):
        raise NoteError("extension lines must be single non-empty lines")
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> CheckpointBody:
    """Read a checkpoint note text (not the signatures); :class:`NoteError` when malformed."""
    if not text.endswith("\n"):
        raise NoteError("the checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has at least three lines (origin, size, root)")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise NoteError("the checkpoint origin is empty")
    if not _SIZE.fullmatch(size_text):
        raise NoteError(f"the tree size {size_text[:30]!r} is not a decimal without leading zeroes")
    root = _b64decode_strict(root_text, "the root hash")
    if len(root) != 32:
        raise NoteError(f"the root hash is {len(root)} bytes, not 32")
    if any(not line for line in extensions):
        raise NoteError("a checkpoint extension line is empty")
    return CheckpointBody(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(body: CheckpointBody, name: str, private_key: Ed25519PrivateKey) -> str:
    return sign_note(body.text(), name, private_key)


@dataclass
class CheckpointResult(NoteResult):
    checkpoint: CheckpointBody | None = None


def verify_checkpoint(
    note: str | bytes,
    verifiers: Iterable[Verifier],
    *,
    origin: str | None = None,
    size: int | None = None,
    root: bytes | None = None,
) -> CheckpointResult:
    """Verify a checkpoint note's signature and, when given, its origin, size and root.

    The signature is checked before the body is trusted; then the body must parse, and the
    expected ``origin``, ``size`` and ``root`` (if any) must match.
    """
    res = verify_note(note, verifiers)
    if not res.ok:
        return CheckpointResult(False, res.reason, res.detail, res.text, res.signers)
    try:
        body = parse_checkpoint(res.text)
    except NoteError as exc:
        return CheckpointResult(False, Reason.MALFORMED, str(exc), res.text, res.signers)
    out = CheckpointResult(True, Reason.OK, "", res.text, res.signers, body)
    if origin is not None and body.origin != origin:
        out.ok, out.reason, out.detail = False, Reason.ORIGIN_MISMATCH, f"origin {body.origin!r}, expected {origin!r}"
    elif size is not None and body.size != size:
        out.ok, out.reason, out.detail = False, Reason.BAD_SIZE, f"the note covers {body.size} entries, expected {size}"
    elif root is not None and body.root != root:
        out.ok, out.reason, out.detail = False, Reason.ROOT_MISMATCH, (
            f"the note's root {body.root.hex()} is not the log's root {root.hex()} at size {body.size}"
        )
    return out


# ------------------------------------------------------------------- the log's checkpoints

CHECKPOINT_HEADER = "stylegate audit checkpoint v1"
CHECKPOINT_ORIGIN_PREFIX = "stylegate.invalid/audit/"


def checkpoint_message(size: int, root: str, time: str) -> bytes:
    """The exact bytes a checkpoint signature covers (four lines, each ending in a newline)::

    stylegate audit checkpoint v1
    size <decimal tree size>
    root <64 lowercase hex>
    time <UTC ISO 8601>
    """
    return f"{CHECKPOINT_HEADER}\nsize {int(size)}\nroot {root}\ntime {time}\n".encode()


def note_origin(public_key: Any) -> str:
    """The origin line (and note key name) of this workspace's checkpoints, derived from its key.

    A schema-less URL that names the key, so a verifier holding only the public key knows the
    name its signatures carry (c2sp.org/tlog-checkpoint: the key name SHOULD match the origin).
    """
    return f"{CHECKPOINT_ORIGIN_PREFIX}{signing.key_id(signing.load_public_key(public_key))}"


def note_verifier(public_key: Any) -> Verifier:
    """The C2SP verifier key (``name+keyid+base64``) for checkpoints signed by ``public_key``."""
    key = signing.load_public_key(public_key)
    return Verifier.from_public_key(note_origin(key), key)


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head. ``public_key`` and ``signature`` are hex; ``id`` is the row id (0 if unsaved).

    ``note`` is the C2SP signed note (c2sp.org/tlog-checkpoint) the signature belongs to; it is
    empty for checkpoints written before stylegate spoke C2SP, whose signature covers
    :func:`checkpoint_message` instead. ``time`` is when it was signed; a C2SP checkpoint does
    not sign it (the spec advises against extension lines).
    """

    id: int
    size: int
    root: str
    time: str
    key_id: str
    public_key: str
    signature: str
    note: str = ""

    def message(self) -> bytes:
        """The bytes the signature covers: the note text, or the legacy four-line body."""
        if self.note:
            try:
                return parse_note(self.note).text.encode("utf-8")
            except NoteError:
                return b""
        return checkpoint_message(self.size, self.root, self.time)

    def check(self, public_key: Any) -> Verdict:
        """Verify against ``public_key`` and say why it failed (``malformed``, ``unknown_key``,
        ``bad_signature``, ``bad_size``, ``root_mismatch``; see :class:`Reason`)."""
        try:
            key = signing.load_public_key(public_key)
        except (signing.SigningError, ValueError, TypeError) as exc:
            return refuse(Reason.MALFORMED, f"the public key is unusable: {exc}")
        if self.note:
            try:
                root = bytes.fromhex(self.root)
            except ValueError:
                return refuse(Reason.MALFORMED, "the stored root is not hex")
            res = verify_checkpoint(self.note, [note_verifier(key)], size=self.size, root=root)
            return Verdict(res.ok, res.reason, res.detail)
        try:
            sig = bytes.fromhex(self.signature)
        except (ValueError, TypeError):
            return refuse(Reason.MALFORMED, "the stored signature is not hex")
        if signing.verify_signature(key, self.message(), sig):
            return accept()
        if self.key_id and self.key_id != signing.key_id(key):
            return refuse(Reason.UNKNOWN_KEY, f"signed by key {self.key_id}, not the trusted key")
        return refuse(Reason.BAD_SIGNATURE, "the legacy signature does not verify")

    def verify(self, public_key: Any) -> Verdict:
        """Truthy when the signature is ``public_key``'s and the note matches the stored head."""
        return self.check(public_key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(
            id=int(data.get("id", 0)),
            size=int(data["size"]),
            root=str(data["root"]),
            time=str(data["time"]),
            key_id=str(data.get("key_id", "")),
            public_key=str(data.get("public_key", "")),
            signature=str(data["signature"]),
            note=str(data.get("note") or ""),
        )
