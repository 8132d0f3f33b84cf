"""The answer every audit verifier gives: ok or not, and why (never a bare bool).

A :class:`Verdict` is truthy exactly when it is ``ok``, so ``assert verify(...)`` and
``if not verify(...)`` read as before, while an auditor can print :attr:`Verdict.reason` (a
:class:`Reason`, stable for scripts) and :attr:`Verdict.detail` (a sentence for people).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Reason(str, Enum):
    """Why a proof, signature, note or log was accepted or refused (values are stable strings)."""

    OK = "ok"
    MALFORMED = "malformed"  # not parseable: bad hex, wrong lengths, missing fields
    UNKNOWN_KEY = "unknown_key"  # no signature by a trusted key
    BAD_SIGNATURE = "bad_signature"  # a trusted key's signature does not verify
    ORIGIN_MISMATCH = "origin_mismatch"  # a checkpoint names another log
    BAD_SIZE = "bad_size"  # a tree size that does not fit (index outside the tree, note too big…)
    ROOT_MISMATCH = "root_mismatch"  # the proof leads to another root
    BAD_PROOF = "bad_proof"  # the proof has the wrong number of hashes for its sizes
    LEAF_MISMATCH = "leaf_mismatch"  # the leaf text does not hash to the claimed leaf hash
    SEQ_MISMATCH = "seq_mismatch"  # the leaf's sequence number is not its index + 1
    NO_CHECKPOINT = "no_checkpoint"  # a signed head was required and none came with the proof
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # the checkpoint signs another tree head
    NO_KEY = "no_key"  # nothing to check a signature with
    TAMPERED = "tampered"  # log verification found problems (see the listing)

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass
class Verdict:
    """``ok`` plus a :class:`Reason` and a human ``detail``; truthy when ``ok``."""

    ok: bool
    reason: Reason | str = Reason.OK
    detail: str = ""

    def __bool__(self) -> bool:
        return bool(self.ok)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": str(self.reason), "detail": self.detail}


def accept() -> Verdict:
    return Verdict(True, Reason.OK)


def refuse(reason: Reason, detail: str) -> Verdict:
    return Verdict(False, reason, detail)
