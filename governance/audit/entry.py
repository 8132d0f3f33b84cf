"""Audit entries: the kinds, the envelope, the canonical encoding and the typed decision record.

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

**Bodies.** Checks and generations carry a :class:`DecisionRecord`, written and read by the
same class (the log itself stores any JSON mapping and knows nothing about decisions).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from enum import Enum
from typing import Any, TypeGuard

from stylegate.errors import AuditError

ENTRY_VERSION = 1
ZERO_HASH = "0" * 64
REGISTRY_KIND_PREFIX = "registry."  # + a registry event: "registry.artist.added", "registry.works.removed"


class AuditKind(str, Enum):
    """The entry kinds stylegate writes itself (registry changes are ``registry.<event>``, see
    :func:`registry_kind`). Members are strings, so stored values and JSON are the plain text."""

    CHECK_PROMPT = "check.prompt"
    CHECK_IMAGE = "check.image"
    GENERATE = "generate"
    # Appended after a generation whose images could not all be written: {"corrects": seq,
    # "unwritten": [...], "written": [...]}. A generation with nothing written earns no royalty.
    GENERATE_CORRECTION = "generate.correction"
    POLICY_CALIBRATED = "policy.calibrated"
    # Appended when royalty statements are issued for a period: {"period": {...}, "counts":
    # {artist id: attributed generations}, "last_seq": n, "corrects": statement id or null}. The
    # checkpoint signed next covers it, so every statement can prove the count it must list.
    STATEMENTS_ISSUED = "statements.issued"
    # Appended by a retroactive re-audit (`stylegate scan --past-generations`) for each past
    # generated image that now falls in a style the gate blocks, or now owes new attribution:
    # {"scan_id", "image", "path", "generation_seq", "finding", "was_action", "action", "artists",
    # "attribution", "evidence", "snapshot"}. Nothing in the generation's own entry changes.
    SCAN_FINDING = "scan.finding"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


DECISION_KINDS: tuple[AuditKind, ...] = (AuditKind.CHECK_PROMPT, AuditKind.CHECK_IMAGE, AuditKind.GENERATE)


def registry_kind(event: str) -> str:
    """The entry kind for a registry event: ``artist.added`` → ``registry.artist.added``."""
    return REGISTRY_KIND_PREFIX + event


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


_decoder: Any = None


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``, several times faster through msgspec for stored entries (reports and
    recounts read millions); json.loads decides whatever msgspec refuses (integers beyond 64 bits)."""
    global _decoder
    if _decoder is None:
        try:
            import msgspec

            _decoder = msgspec.json.Decoder()
        except ImportError:  # pragma: no cover - msgspec is a dependency; stay correct without it
            _decoder = False
    if _decoder:
        try:
            return _decoder.decode(text)
        except Exception:  # noqa: BLE001 - msgspec.DecodeError / ValidationError: let json.loads decide
            pass
    return json.loads(text)


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


# -- the envelope ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    """One stored entry as read back: the envelope, with the body left as stored."""

    seq: int
    time: str
    kind: str
    prev: str
    body: Mapping[str, Any]
    v: int = ENTRY_VERSION

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEntry:
        """Read an entry dict (as :meth:`AuditLog.entries` yields); AuditError when it has no seq."""
        try:
            seq = int(data["seq"])
        except (KeyError, TypeError, ValueError):
            raise AuditError(f"an audit entry without a sequence number: {str(dict(data))[:80]}") from None
        body = data.get("body")
        return cls(seq=seq, time=str(data.get("time") or ""), kind=str(data.get("kind", "")),
                   prev=str(data.get("prev", "")), body=body if _is_map(body) else {},
                   v=int(data.get("v", ENTRY_VERSION)))

    @property
    def is_decision(self) -> bool:
        return self.kind in {k.value for k in DECISION_KINDS}

    def decision(self) -> DecisionRecord:
        """The body read as a :class:`DecisionRecord` (checks and generations)."""
        return DecisionRecord.from_body(self.body)

    def correction(self) -> CorrectionRecord:
        """The body read as a :class:`CorrectionRecord` (``generate.correction`` entries)."""
        return CorrectionRecord.from_body(self.body)


# -- the decision record -----------------------------------------------------------------------


def _is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, with the common case (a dict from JSON) first: the ABC
    check costs more than the rest of reading a record, and reports read millions."""
    return type(value) is dict or isinstance(value, Mapping)


def _number(value: Any) -> float | None:
    """``float(value)``, or None when that fails (a missing or non-numeric score)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ArtistRef:
    """An artist as a record names it; ``id`` is None when the stored item lacks a usable one."""

    id: int | None
    name: str

    @classmethod
    def from_value(cls, value: Any) -> ArtistRef:
        data = value if _is_map(value) else {}
        try:
            artist_id: int | None = int(data["id"])
        except (KeyError, TypeError, ValueError):
            artist_id = None
        return cls(artist_id, str(data.get("name", "")))


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence in a record. Typed for readers; written back exactly as it came."""

    kind: str
    artist: ArtistRef
    consent: str
    score: float | None  # None: not a finite number in the stored item
    threshold: float | None
    rule: str
    action: str
    verified: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvidenceItem:
        d = data if _is_map(data) else {}
        return cls(kind=str(d.get("kind")), artist=ArtistRef.from_value(d.get("artist")),
                   consent=str(d.get("consent", "")), score=_number(d.get("score")),
                   threshold=_number(d.get("threshold")), rule=str(d.get("rule", "")),
                   action=str(d.get("action", "")), verified=bool(d.get("verified", True)), raw=dict(d))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True)
class AttributionItem:
    """One artist's share of a decision. ``share`` is the stored value (validated by readers)."""

    artist: ArtistRef
    share: Any
    consent: str
    held: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttributionItem:
        d = data if _is_map(data) else {}
        return cls(artist=ArtistRef.from_value(d.get("artist")), share=d.get("share"),
                   consent=str(d.get("consent", "")), held=bool(d.get("held", False)), raw=dict(d))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True)
class UnpromptedItem:
    """An artist whose style the output image matched though the request did not ask for it:
    recorded, not paid (``attribution.basis = "requested"``)."""

    artist: ArtistRef
    consent: str
    kind: str
    score: float | None
    threshold: float | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnpromptedItem:
        d = data if isinstance(data, Mapping) else {}
        return cls(artist=ArtistRef.from_value(d.get("artist")), consent=str(d.get("consent", "")),
                   kind=str(d.get("kind", "")), score=_number(d.get("score")), threshold=_number(d.get("threshold")),
                   raw=dict(d))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


def _items(value: Any) -> list[Mapping[str, Any]]:
    if type(value) is list:  # what json.loads gives: skip the slow ABC checks (reports read millions)
        return [v for v in value if _is_map(v)]
    return [v for v in value if _is_map(v)] if isinstance(value, Sequence) and not isinstance(value, str) else []


_RECORD_KEYS = frozenset({"decision", "subject", "evidence", "attribution", "reasons", "policy_hash", "model", "index",
                          "steer", "error", "prompt", "prompt_sha256", "unprompted_style"})


@dataclass(frozen=True)
class DecisionRecord:
    """The body of a check or generation entry, written and read by this one class.

    Stored keys: ``decision`` (the action), ``subject``, ``evidence``, ``attribution``,
    ``reasons``, ``policy_hash``, ``model`` (the embedder identity), ``index`` (style index
    identity or null), then ``steer``/``error``/``unprompted_style`` (image-only style matches
    recorded but not paid, governance/attribution.py) when present, ``prompt`` when given (the log adds
    ``prompt_sha256`` on append, and under ``prompt_mode="hash"`` keeps only that), and whatever
    else the front end recorded (``image``, ``provenance``, ``credentials``, ``source``,
    ``images``, ``seeds``…) in :attr:`extra`. :meth:`to_body` gives back exactly these keys.
    """

    action: str | None
    subject: str | None = None
    evidence: tuple[EvidenceItem, ...] = ()
    attribution: tuple[AttributionItem, ...] = ()
    reasons: tuple[str, ...] = ()
    policy_version: str | None = ""  # stored as ``policy_hash``
    embedder: Mapping[str, Any] | None = field(default_factory=dict)  # stored as ``model``
    index: Mapping[str, Any] | None = None
    steer: Mapping[str, Any] | None = None
    error: str | None = None
    prompt: str | None = None
    prompt_sha256: str | None = None
    unprompted_style: tuple[UnpromptedItem, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_decision(
        cls,
        decision: Mapping[str, Any],
        *,
        prompt: str | None = None,
        policy_hash: str | None = None,
        model: Mapping[str, Any] | None = None,
        index: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> DecisionRecord:
        """The record for a decision's plain dict (``Decision.to_dict()``).

        ``policy_hash`` defaults to the decision's ``policy_version`` and ``model`` to its
        ``embedder``; ``index`` is the style index identity; ``extra`` is stored as given
        (e.g. ``image``, ``source``, ``images``, ``seeds`` for a generation).
        """
        d = decision
        return cls(
            action=d.get("action"),
            subject=d.get("subject"),
            evidence=tuple(EvidenceItem.from_dict(e) for e in d.get("evidence", [])),
            attribution=tuple(AttributionItem.from_dict(a) for a in d.get("attribution", [])),
            reasons=tuple(d.get("reasons", [])),
            policy_version=policy_hash if policy_hash is not None else d.get("policy_version", ""),
            embedder=dict(model) if model is not None else d.get("embedder", {}),
            index=dict(index) if index is not None else None,
            steer=d.get("steer"),
            error=d.get("error"),
            prompt=prompt,
            unprompted_style=tuple(UnpromptedItem.from_dict(u) for u in _items(d.get("unprompted_style"))),
            extra=dict(extra),
        )

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DecisionRecord:
        """Read a stored body back (any version stylegate wrote; missing keys take defaults)."""
        b = body if _is_map(body) else {}
        reasons, index, model = b.get("reasons"), b.get("index"), b.get("model")
        return cls(
            action=None if b.get("decision") is None else str(b.get("decision")),
            subject=b.get("subject"),
            evidence=tuple(EvidenceItem.from_dict(e) for e in _items(b.get("evidence"))),
            attribution=tuple(AttributionItem.from_dict(a) for a in _items(b.get("attribution"))),
            reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
            policy_version=None if b.get("policy_hash") is None else str(b.get("policy_hash")),
            embedder=model if _is_map(model) else None,
            index=index if _is_map(index) else None,
            steer=b.get("steer"),
            error=b.get("error"),
            prompt=b.get("prompt"),
            prompt_sha256=b.get("prompt_sha256"),
            unprompted_style=tuple(UnpromptedItem.from_dict(u) for u in _items(b.get("unprompted_style"))),
            extra={k: v for k, v in b.items() if k not in _RECORD_KEYS},
        )

    def to_body(self) -> dict[str, Any]:
        """The entry body (the inverse of :meth:`from_body`)."""
        body: dict[str, Any] = {
            "decision": self.action,
            "subject": self.subject,
            "evidence": [e.to_dict() for e in self.evidence],
            "attribution": [a.to_dict() for a in self.attribution],
            "reasons": list(self.reasons),
            "policy_hash": self.policy_version,
            "model": self.embedder,
            "index": self.index,
        }
        if self.steer is not None:
            body["steer"] = self.steer
        if self.error is not None:
            body["error"] = self.error
        if self.unprompted_style:
            body["unprompted_style"] = [u.to_dict() for u in self.unprompted_style]
        if self.prompt is not None:
            body["prompt"] = self.prompt
        if self.prompt_sha256 is not None:
            body["prompt_sha256"] = self.prompt_sha256
        body.update(self.extra)
        return body

    def to_dict(self) -> dict[str, Any]:
        """Same as :meth:`to_body` (so :func:`canonical_json` encodes a record directly)."""
        return self.to_body()

    @property
    def image(self) -> Any:
        return self.extra.get("image")

    @property
    def source(self) -> Any:
        return self.extra.get("source")

    @property
    def provenance(self) -> Any:
        return self.extra.get("provenance")

    @property
    def credentials(self) -> Any:
        return self.extra.get("credentials")


@dataclass(frozen=True)
class CorrectionRecord:
    """The body of a ``generate.correction`` entry: which images of generation ``corrects`` were
    written and which were not. A generation with nothing written earns no royalty."""

    corrects: int | None
    written: tuple[Any, ...] = ()
    unwritten: tuple[Any, ...] = ()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> CorrectionRecord:
        b = body if _is_map(body) else {}
        corrects = b.get("corrects")
        return cls(corrects=corrects if isinstance(corrects, int) and not isinstance(corrects, bool) else None,
                   written=tuple(b.get("written") or ()), unwritten=tuple(b.get("unwritten") or ()))

    def to_body(self) -> dict[str, Any]:
        return {"corrects": self.corrects, "unwritten": list(self.unwritten), "written": list(self.written)}

    def to_dict(self) -> dict[str, Any]:
        return self.to_body()
