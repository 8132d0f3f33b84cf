"""Name claims: every name and alias belongs to one artist under its canonical keys.

The keys come from a function handed in by the caller (the workspace passes the screening
layer's, which folds case, diacritics, look-alike letters and spacing), so that the registry
refuses exactly the twins that the name screen could not tell apart. The registry itself
never imports the screening layer; without a function it folds case, width and spacing.

A colliding alias is refused or, when the rules say ``dispute``, left out of the artist's
aliases and recorded as an open dispute for an administrator. A colliding primary name is
always refused: an artist cannot exist without a name that is theirs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

Collision = Literal["refuse", "dispute"]
DISPUTE_STATUSES = ("open", "granted", "rejected")


def default_claim_keys(label: str) -> frozenset[str]:
    """Case-, width- and spacing-insensitive key (used when no screening keys are given)."""
    folded = unicodedata.normalize("NFKC", label).casefold()
    key = "".join(ch for ch in folded if ch.isalnum())
    return frozenset({key}) if key else frozenset()


@dataclass(frozen=True)
class ClaimRules:
    """How names are claimed: the key function, its version and what a collision does."""

    keys: Callable[[str], Iterable[str]] = default_claim_keys
    version: str = "nfkc-casefold-alnum-1"
    on_collision: Collision = "refuse"


@dataclass(frozen=True)
class Dispute:
    id: int
    key: str
    label: str
    claimant_id: int
    holder_id: int | None
    status: str
    created_at: str
    resolved_at: str | None = None
    names: dict[int, str] = field(default_factory=dict, compare=False)  # artist id → name, for display

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "key": self.key,
            "claimant": {"id": self.claimant_id, "name": self.names.get(self.claimant_id)},
            "holder": None if self.holder_id is None else {"id": self.holder_id, "name": self.names.get(self.holder_id)},
            "status": self.status,
            "created_at": self.created_at,
            "resolved_at": self.resolved_at,
        }
