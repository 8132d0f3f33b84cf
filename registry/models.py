"""Plain value objects returned by the registry store."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Consent(str, Enum):
    OPT_OUT = "opt-out"
    ROYALTY = "royalty"
    CREDIT = "credit"


@dataclass(frozen=True)
class Artist:
    id: int
    name: str
    consent: Consent
    aliases: tuple[str, ...] = ()
    descriptors: tuple[str, ...] = ()
    royalty_rate: float | None = None
    created_at: str = ""
    # False while an artist who signed up through the portal awaits an administrator's
    # verification; artists registered by the operator (no portal account) are verified.
    verified: bool = field(default=True, compare=False)

    def ref(self) -> dict:
        return {"id": self.id, "name": self.name}

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "aliases": list(self.aliases),
            "descriptors": list(self.descriptors),
            "consent": self.consent.value,
            "royalty_rate": self.royalty_rate,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Work:
    id: int
    artist_id: int
    sha256: str
    path: str  # relative to the works directory
    format: str
    width: int
    height: int
    size_bytes: int
    added_at: str = ""

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "artist_id": self.artist_id,
            "sha256": self.sha256,
            "path": self.path,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "size_bytes": self.size_bytes,
            "added_at": self.added_at,
        }


@dataclass
class ImportResult:
    """What an import of works did: added, skipped as duplicates."""

    added: list[Work] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (path, existing work id)
    # CAWG training-and-data-mining assertions found in the imported files' C2PA manifests
    # (filled in by the shell, which may read C2PA; the registry never does)
    consent_signals: list[dict] = field(default_factory=list)
    # every file's content hash as validated (duplicates included), keyed by the path given
    sha256_by_path: dict[str, str] = field(default_factory=dict)
