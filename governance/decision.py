"""Decisions and the evidence that explains them.

A decision never exists without its explanation: every non-allow action is backed by at
least one piece of evidence naming the artist, the score, the threshold it crossed and the
rule that fired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Action(str, Enum):
    ALLOW = "allow"
    ATTRIBUTE = "attribute"
    STEER = "steer"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.ATTRIBUTE: 1, Action.STEER: 2, Action.BLOCK: 3}


class EvidenceKind(str, Enum):
    NAME = "name"
    DESCRIPTION = "description"
    STYLE = "style"
    NEAR_DUPLICATE = "near-duplicate"


def kind_text(kind: str) -> str:
    """The evidence kind as written in JSON and policies ("near-duplicate"); a new kind is its own string."""
    return kind.value if isinstance(kind, EvidenceKind) else kind


@dataclass(frozen=True)
class ArtistRef:
    id: int
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class Evidence:
    kind: str  # an EvidenceKind, or the kind of a detector registered on the gate
    artist: ArtistRef
    consent: str
    score: float
    threshold: float
    rule: str
    action: Action
    detail: dict[str, Any] = field(default_factory=dict)
    verified: bool = True  # False: the artist's identity awaits an administrator

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": kind_text(self.kind),
            "artist": self.artist.to_dict(),
            "consent": self.consent,
            "verified": self.verified,
            "score": round(float(self.score), 4),
            "threshold": round(float(self.threshold), 4),
            "rule": self.rule,
            "action": self.action.value,
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass(frozen=True)
class Attribution:
    artist: ArtistRef
    share: float
    consent: str
    held: bool = False  # recorded but not paid until the artist is verified

    def to_dict(self) -> dict[str, Any]:
        out = {"artist": self.artist.to_dict(), "share": round(float(self.share), 6), "consent": self.consent}
        if self.held:
            out["held"] = True
        return out


@dataclass
class Decision:
    """The outcome of one check: action, evidence, attribution and what to do about it."""

    subject: str  # "prompt" | "image"
    action: Action
    evidence: list[Evidence] = field(default_factory=list)
    attribution: list[Attribution] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    policy_version: str = ""
    embedder: dict[str, Any] = field(default_factory=dict)
    steer: dict[str, Any] | None = None  # rewritten prompt / negative prompt when action is steer
    audit_seq: int | None = None
    error: str | None = None

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subject": self.subject,
            "action": self.action.value,
            "evidence": [e.to_dict() for e in self.evidence],
            "attribution": [a.to_dict() for a in self.attribution],
            "reasons": list(self.reasons),
            "policy_version": self.policy_version,
            "embedder": dict(self.embedder),
            "audit_seq": self.audit_seq,
        }
        if self.steer is not None:
            out["steer"] = self.steer
        if self.error is not None:
            out["error"] = self.error
        return out
