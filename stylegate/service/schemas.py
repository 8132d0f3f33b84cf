"""Request and response bodies of the HTTP API.

Every request model forbids unknown fields: a client that sends ``verified`` or
``royalty_rate`` to an artist route gets a 422 naming the field, never a silent write
(mass assignment). Privileged fields exist only on the admin models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from stylegate.registry.accounts import EMAIL_PATTERN  # the registry's own e-mail rule
from stylegate.registry.schema import ALIAS_MAX, CONTACT_MAX, DESCRIPTOR_MAX, NAME_MAX

ConsentValue = Literal["opt-out", "royalty", "credit"]

# Ids in paths: positive and within the id columns' range on both backends: the registry's ids
# are ``Integer``, 32-bit on PostgreSQL (a larger id failed there in the driver, a 503 instead
# of a 404), and SQLite's autoincrement never mints one past it in practice.
MAX_ID = 2**31 - 1
ArtistId = Annotated[int, Path(ge=1, le=MAX_ID, description="the artist's id")]
WorkId = Annotated[int, Path(ge=1, le=MAX_ID, description="the work's id")]

# The registry's text rules (registry.store), stated in the schema so clients can see them:
# no control characters, not blank, and a name is not only digits (it would read as an id).
_PLAIN = r"[^\x00-\x1f\x7f-\x9f]"
TEXT_PATTERN = rf"^{_PLAIN}*[^\x00-\x1f\x7f-\x9f\s]{_PLAIN}*$"
NAME_PATTERN = rf"^{_PLAIN}*[^\x00-\x1f\x7f-\x9f\s0-9]{_PLAIN}*$"
Alias = Annotated[str, Field(min_length=1, max_length=ALIAS_MAX, pattern=TEXT_PATTERN)]
Descriptor = Annotated[str, Field(min_length=1, max_length=DESCRIPTOR_MAX, pattern=TEXT_PATTERN)]


class Strict(BaseModel):
    """Unknown fields are refused, and so are values of the wrong JSON type (no "yes" for true)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class SignUp(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN, description="the name people write")
    aliases: list[Alias] = Field(default_factory=list, max_length=100)
    descriptors: list[Descriptor] = Field(default_factory=list, max_length=100,
                                          description="short phrases describing the style, no names")
    consent: ConsentValue
    contact: str = Field(min_length=3, max_length=CONTACT_MAX, pattern=EMAIL_PATTERN, description="e-mail address")


class ArtistUpdate(Strict):
    """What an artist may change about themselves."""

    aliases: Optional[list[Alias]] = Field(None, max_length=100)
    descriptors: Optional[list[Descriptor]] = Field(None, max_length=100)
    consent: Optional[ConsentValue] = None
    contact: Optional[str] = Field(None, min_length=3, max_length=CONTACT_MAX, pattern=EMAIL_PATTERN,
                                   description="e-mail address")


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
    contact_confirmed: bool = Field(False, description="the artist followed the link mailed to the contact address")
    verified: bool = Field(False, description="an administrator verified the artist's identity")
    works: list[WorkOut] = Field(default_factory=list)


MailState = Literal["sent", "not-configured", "failed", "already-confirmed"]


class SignUpOut(BaseModel):
    artist: ArtistOut
    token: str = Field(description="the API token: shown once, store it safely")
    confirmation_mail: MailState = Field(description="whether a confirmation link was mailed to the contact address")


class ConfirmationOut(BaseModel):
    confirmation_mail: MailState


class TokenOut(BaseModel):
    token: str


class DuplicateOut(BaseModel):
    file: str
    detail: Literal["already one of your works", "already registered"]
    work_id: Optional[int] = Field(None, description="only when the work is your own")


class UploadOut(BaseModel):
    added: list[WorkOut]
    duplicates: list[DuplicateOut]


class Deleted(BaseModel):
    deleted: Literal[True] = True
    artist_id: int
    works_removed: int = 0


class WorkWithdrawn(BaseModel):
    withdrawn: WorkOut


class PromptCheck(Strict):
    # The length limit is the policy's `prompt.max_chars` (the same one the CLI applies), checked
    # by the gate: a longer prompt is a 422 naming the limit. The request body cap bounds it too.
    prompt: str = Field(min_length=1, description="the prompt; at most the policy's prompt.max_chars characters "
                                                  "(default 2,000), not blank")


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


BULK_MAX_ITEMS = 10_000  # items in one bulk request (names or prompts)
JSON_MAX_NAMES = 100  # names in a lookup answered as one JSON object


class NameLookup(Strict):
    names: list[Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]] = Field(
        min_length=1, max_length=BULK_MAX_ITEMS,
        description="each 1 to 2,000 characters, not blank: 1 to 100 names for a JSON answer, up to 10,000 "
                    "with `Accept: application/x-ndjson` (one result per line, in input order)")


class PromptBatch(Strict):
    # Each prompt is judged by the gate as a single check judges it: an unusable one is an error
    # line in the answer, not a 422 for the whole request.
    prompts: list[str] = Field(min_length=1, max_length=BULK_MAX_ITEMS,
                               description="1 to 10,000 prompts, each checked and audited as POST /v1/check/prompt")


class ItemError(BaseModel):
    """A line of a bulk answer for an item that could not be checked."""

    index: int = Field(description="the item's position in the request, from 0")
    error: str
    stopped: bool = Field(False, description="the service failed: no line follows")


class CawgEntry(BaseModel):
    use: Literal["allowed", "notAllowed", "constrained"]
    constraint_info: Optional[str] = None


class CawgTrainingMining(BaseModel):
    """The artist's consent in the CAWG Training and Data Mining vocabulary."""

    label: str = "cawg.training-mining"
    entries: dict[str, CawgEntry]


class NameMatch(BaseModel):
    artist: ArtistRef
    consent: ConsentValue
    matched: str
    how: str
    score: float
    cawg: Optional[CawgTrainingMining] = None


class NameLookupResult(BaseModel):
    name: str
    registered: bool
    matches: list[NameMatch]


class NameLookupOut(BaseModel):
    results: list[NameLookupResult]


class ErrorOut(BaseModel):
    detail: Any


class FieldError(BaseModel):
    loc: list[Union[str, int]]
    msg: str
    type: str


class InvalidOut(BaseModel):
    """A 422: the fields that failed validation, or one message from the registry's own rules."""

    detail: Union[str, list[FieldError]]


class DisputeParty(BaseModel):
    id: int
    name: Optional[str]


class DisputeOut(BaseModel):
    """A name or alias that two artists claim; an administrator decides who keeps it."""

    id: int
    label: str
    key: str
    claimant: DisputeParty
    holder: Optional[DisputeParty]
    status: Literal["open", "granted", "rejected"]
    created_at: str
    resolved_at: Optional[str]


class DisputeDecision(Strict):
    grant: bool = Field(description="true: the claimant gets the label; false: the claim is rejected")
