"""Request and response bodies of the HTTP API.

Every request model forbids unknown fields: a client that sends ``verified`` or
``royalty_rate`` to an artist route gets a 422 naming the field, never a silent write
(mass assignment). Privileged fields exist only on the admin models.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from stylegate.registry.schema import ALIAS_MAX, CONTACT_MAX, DESCRIPTOR_MAX, NAME_MAX

ConsentValue = Literal["opt-out", "royalty", "credit"]
Label = Field(min_length=1, max_length=ALIAS_MAX)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUp(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX, description="the name people write")
    aliases: list[str] = Field(default_factory=list, max_length=100)
    descriptors: list[str] = Field(default_factory=list, max_length=100,
                                   description="short phrases describing the style, no names")
    consent: ConsentValue
    contact: str = Field(min_length=3, max_length=CONTACT_MAX, description="e-mail address")


class ArtistUpdate(Strict):
    """What an artist may change about themselves."""

    aliases: Optional[list[str]] = Field(None, max_length=100)
    descriptors: Optional[list[str]] = Field(None, max_length=100)
    consent: Optional[ConsentValue] = None
    contact: Optional[str] = Field(None, min_length=3, max_length=CONTACT_MAX)


class AdminArtistUpdate(Strict):
    """Privileged fields, for administrators only."""

    verified: Optional[bool] = None
    royalty_rate: Optional[float] = Field(None, ge=0.0, le=1.0)
    clear_royalty_rate: bool = Field(False, description="return to the policy's default rate")


class WorkOut(BaseModel):
    id: int
    sha256: str
    format: str
    width: int
    height: int
    size_bytes: int
    added_at: str


class ArtistOut(BaseModel):
    id: int
    name: str
    aliases: list[str]
    descriptors: list[str]
    consent: ConsentValue
    royalty_rate: Optional[float]
    created_at: str
    contact: Optional[str] = None
    verified: bool = False
    works: list[WorkOut] = Field(default_factory=list)


class SignUpOut(BaseModel):
    artist: ArtistOut
    token: str = Field(description="the API token: shown once, store it safely")


class TokenOut(BaseModel):
    token: str


class UploadOut(BaseModel):
    added: list[WorkOut]
    duplicates: list[dict[str, Any]]


class Deleted(BaseModel):
    deleted: Literal[True] = True
    artist_id: int
    works_removed: int = 0


class WorkWithdrawn(BaseModel):
    withdrawn: WorkOut


class PromptCheck(Strict):
    prompt: str = Field(min_length=1, max_length=2000)


class ArtistRef(BaseModel):
    id: int
    name: str


class EvidenceOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str
    artist: ArtistRef
    score: float
    threshold: float


class AttributionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    artist: ArtistRef
    share: float


class DecisionOut(BaseModel):
    """The same decision JSON as ``stylegate check … --json``."""

    model_config = ConfigDict(extra="allow")
    action: Literal["allow", "attribute", "steer", "block"]
    evidence: list[EvidenceOut]
    attribution: list[AttributionOut]
    audit_seq: Optional[int]


class NameLookup(Strict):
    names: list[str] = Field(min_length=1, max_length=100)


class NameMatch(BaseModel):
    artist: ArtistRef
    consent: ConsentValue
    matched: str
    how: str
    score: float


class NameLookupResult(BaseModel):
    name: str
    registered: bool
    matches: list[NameMatch]


class NameLookupOut(BaseModel):
    results: list[NameLookupResult]


class ErrorOut(BaseModel):
    detail: Any
