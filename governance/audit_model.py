"""Audit log value types, the canonical entry encoding and the checks shared by every verifier.

**Leaf bytes.** An entry is a JSON object; its leaf bytes are its canonical JSON: keys sorted,
no whitespace (``","`` and ``":"`` separators), non-ASCII characters written as UTF-8 (not
``\\u`` escapes), no NaN or infinity, encoded as UTF-8. Python's ``json.dumps(entry,
sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()`` is the
reference; floats are written in Python's shortest round-trip form. The stored (and exported)
text is exactly these bytes, so an auditor hashes the text as given and never re-encodes it.

**Entry envelope** (schema ``v`` 1)::

    {"v": 1, "seq": 7, "time": "2025-01-01T12:00:00.000000+00:00", "kind": "check.prompt",
     "prev": "<hex leaf hash of entry 6; 64 zeros for entry 1>", "body": {...}}

``prev`` chains every entry to the one before it, so an entry's leaf hash commits to the whole
history; the Merkle tree over the leaf hashes (RFC 6962) gives compact proofs on top.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from enum import Enum
from typing import Any

from stylegate.errors import InputError, StylegateError

from . import signed_note, signing
from .audit_merkle import EMPTY_ROOT, frontier_push, frontier_root, leaf_hash

ENTRY_VERSION = 1
ZERO_HASH = "0" * 64
CHECKPOINT_HEADER = "stylegate audit checkpoint v1"
CHECKPOINT_ORIGIN_PREFIX = "stylegate.invalid/audit/"
MAX_PROBLEMS = 50


class AuditError(StylegateError):
    """The audit log cannot be opened, written or read, or it failed a check before signing."""


class AuditEntryNotFound(AuditError, InputError):
    """No entry has the requested sequence number (exit code 2: the caller asked for it)."""


# -- canonical JSON -------------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "tolist"):  # numpy scalars and arrays, without importing numpy
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def canonical_json(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (see the module docstring); raises AuditError if impossible."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit entry is not canonical JSON: {exc}") from exc


def leaf_bytes(entry: Mapping[str, Any]) -> bytes:
    """The Merkle leaf bytes of an entry: its canonical JSON in UTF-8."""
    return canonical_json(entry).encode("utf-8")


def utc_now() -> str:
    """The current UTC time, ISO 8601 with microseconds and an explicit ``+00:00`` offset."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeHead:
    """A Merkle tree head: ``size`` leaves with root hash ``root`` (hex)."""

    size: int
    root: str

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root}


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


def note_verifier(public_key: Any) -> signed_note.Verifier:
    """The C2SP verifier key (``name+keyid+base64``) for checkpoints signed by ``public_key``."""
    key = signing.load_public_key(public_key)
    return signed_note.Verifier.from_public_key(note_origin(key), key)


@dataclass(frozen=True)
class CheckpointCheck:
    """Why a stored checkpoint verified or not: ``reason`` is a :data:`signed_note.Reason`."""

    ok: bool
    reason: str
    detail: str = ""


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
                return signed_note.parse_note(self.note).text.encode("utf-8")
            except signed_note.NoteError:
                return b""
        return checkpoint_message(self.size, self.root, self.time)

    def check(self, public_key: Any) -> CheckpointCheck:
        """Verify against ``public_key`` and say why it failed (``malformed``, ``unknown_key``,
        ``bad_signature``, ``bad_size``, ``root_mismatch``)."""
        try:
            key = signing.load_public_key(public_key)
        except (signing.SigningError, ValueError, TypeError) as exc:
            return CheckpointCheck(False, "malformed", f"the public key is unusable: {exc}")
        if self.note:
            try:
                root = bytes.fromhex(self.root)
            except ValueError:
                return CheckpointCheck(False, "malformed", "the stored root is not hex")
            res = signed_note.verify_checkpoint(self.note, [note_verifier(key)], size=self.size, root=root)
            return CheckpointCheck(res.ok, res.reason, res.detail)
        try:
            sig = bytes.fromhex(self.signature)
        except (ValueError, TypeError):
            return CheckpointCheck(False, "malformed", "the stored signature is not hex")
        if signing.verify_signature(key, self.message(), sig):
            return CheckpointCheck(True, "ok")
        if self.key_id and self.key_id != signing.key_id(key):
            return CheckpointCheck(False, "unknown_key", f"signed by key {self.key_id}, not the trusted key")
        return CheckpointCheck(False, "bad_signature", "the legacy signature does not verify")

    def verify(self, public_key: Any) -> bool:
        """True when the signature is ``public_key``'s and the note matches the stored head."""
        return self.check(public_key).ok

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


@dataclass
class VerifyResult:
    """What :meth:`AuditLog.verify` found.

    ``first_bad_seq`` is the sequence number of the first entry that is missing, edited, out of
    place or cut off; when only a signed checkpoint disagrees (every stored hash was rewritten
    consistently), it is the first entry after the last checkpoint that still matches, the
    earliest entry that can have changed. ``unsigned`` counts entries after the latest valid
    checkpoint: they are chained but not yet covered by a signature.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    checkpoints: int = 0
    latest_checkpoint_size: int | None = None
    unsigned: int = 0
    root: str = EMPTY_ROOT.hex()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Problems:
    """Collects problem messages (capped) and the smallest implicated sequence number."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.first_bad: int | None = None
        self._dropped = 0

    def __bool__(self) -> bool:
        return bool(self.messages) or self._dropped > 0

    def add(self, message: str, seq: int | None = None) -> None:
        if seq is not None and (self.first_bad is None or seq < self.first_bad):
            self.first_bad = seq
        if len(self.messages) < MAX_PROBLEMS:
            self.messages.append(message)
        else:
            self._dropped += 1

    def listing(self) -> list[str]:
        return self.messages + ([f"... and {self._dropped} more problems"] if self._dropped else [])


class ChainChecker:
    """Replays entries in order: numbering, leaf hashes, canonical form, the ``prev`` chain, heads.

    Each problem names the entry at which the inconsistency shows: a broken link (entry k's
    ``prev`` is not entry k-1's leaf hash) names entry k.
    """

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.frontier: list[bytes] = []
        self.size = 0
        self.prev = bytes.fromhex(ZERO_HASH)
        self.expected = 1

    @property
    def root(self) -> bytes:
        return frontier_root(self.frontier)

    def add(self, seq: Any, text: Any, stored_leaf: str | None = None) -> tuple[int, bytes, dict[str, Any] | None]:
        """Check one entry; returns its (normalised) seq, recomputed leaf hash and parsed object."""
        p = self.problems
        if not isinstance(seq, int) or isinstance(seq, bool):
            p.add(f"entry at position {self.expected} has a non-integer sequence number {seq!r}", self.expected)
            seq = self.expected
        elif seq > self.expected:
            gap = f"entry {self.expected} is" if seq == self.expected + 1 else f"entries {self.expected}..{seq - 1} are"
            p.add(f"{gap} missing (deleted)", self.expected)
        elif seq < self.expected:
            p.add(f"entry {seq} is out of place after entry {self.expected - 1}", seq)
        if not isinstance(text, str):
            p.add(f"entry {seq} is stored as {type(text).__name__}, not text", seq)
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        leaf = leaf_hash(text.encode("utf-8", "surrogatepass"))
        if stored_leaf is not None and stored_leaf != leaf.hex():
            p.add(f"entry {seq} does not match its stored leaf hash (edited)", seq)
        obj: dict[str, Any] | None = None
        try:
            parsed = json.loads(text)
        except ValueError:
            p.add(f"entry {seq} is not valid JSON (edited)", seq)
        else:
            if not isinstance(parsed, dict):
                p.add(f"entry {seq} is not a JSON object (edited)", seq)
            else:
                obj = parsed
                try:
                    canonical = canonical_json(parsed) == text
                except AuditError:
                    canonical = False
                if not canonical:
                    p.add(f"entry {seq} is not in canonical JSON form (edited)", seq)
                if obj.get("seq") != seq:
                    p.add(f"entry {seq} carries sequence number {obj.get('seq')!r} (reordered or renumbered)", seq)
                if obj.get("prev") != self.prev.hex():
                    p.add(f"entry {seq} does not chain to entry {seq - 1}: its prev hash names another entry", seq)
        self.frontier = frontier_push(self.frontier, self.size, leaf)
        self.size += 1
        self.prev = leaf
        self.expected = seq + 1
        return seq, leaf, obj
