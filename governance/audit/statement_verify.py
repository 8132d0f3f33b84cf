#!/usr/bin/env python3
"""Verify a stylegate royalty statement without the operator's workspace.

This one file needs only the Python standard library and ``cryptography``; an artist can copy
it and run::

    python verify_statement.py statement.json --key audit-ed25519.pub.pem \
        [--checkpoint later-note.txt --consistency proof.json] [--json]

What it checks, each failure with its own reason (the ``reason`` values are stable strings):

- ``wrong_key``: the statement was signed by another key than the one you trust (``--key``);
- ``bad_signature``: the statement's Ed25519 signature does not cover its content (edited);
- ``bad_checkpoint``: the C2SP checkpoint (c2sp.org/tlog-checkpoint) is not signed by that key,
  or its tree size or root was altered;
- ``leaf_mismatch``: a line's audit entry does not hash to its leaf hash, or says something
  else than the line (sequence number, time, share, artist);
- ``bad_inclusion``: a line's RFC 6962 inclusion proof does not lead to the checkpoint root;
- ``bad_commitment``: the period's count commitment (itself an audit entry) is not in the log
  under that checkpoint, or is for another period or statement;
- ``count_mismatch``: the statement has fewer (or more) lines than the count the log commits to
  for this artist and period, so a generation was left out;
- ``bad_amount`` / ``bad_total``: amount ≠ price × rate × share, or the totals do not add up;
- ``inconsistent_checkpoint``: a later checkpoint given with ``--checkpoint`` is not an
  extension of the statement's (the log was rewritten), or no consistency proof came with it.

The Merkle and note code here is a second, independent implementation of RFC 6962/9162 and
C2SP signed notes; stylegate's own (``stylegate.governance.audit``) signs what this checks.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import math
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "stylegate-statement/1"
COMMITMENT_KIND = "statements.issued"
ORIGIN_PREFIX = "stylegate.invalid/audit/"
EM_DASH = "\u2014"
AMOUNT_TOLERANCE = 1e-9
SHARE_TOLERANCE = 1e-6


class Reason(str, Enum):
    """Why a statement was accepted or refused (values are stable strings for scripts)."""

    OK = "ok"
    MALFORMED = "malformed"
    WRONG_KEY = "wrong_key"
    BAD_SIGNATURE = "bad_signature"
    BAD_CHECKPOINT = "bad_checkpoint"
    LEAF_MISMATCH = "leaf_mismatch"
    BAD_INCLUSION = "bad_inclusion"
    BAD_COMMITMENT = "bad_commitment"
    COUNT_MISMATCH = "count_mismatch"
    BAD_AMOUNT = "bad_amount"
    BAD_TOTAL = "bad_total"
    INCONSISTENT_CHECKPOINT = "inconsistent_checkpoint"
    OMITTED = "omitted"  # the workspace holds attributed generations the statement lacks (CLI only)

    def __str__(self) -> str:
        return self.value


@dataclass
class Finding:
    reason: Reason
    detail: str
    line: int | None = None  # the audit sequence number of the line concerned, if any

    def to_dict(self) -> dict[str, Any]:
        return {"reason": str(self.reason), "detail": self.detail, "seq": self.line}


@dataclass
class StatementVerdict:
    """``ok`` plus every problem found, the first one's reason as :attr:`reason`; truthy when ok."""

    findings: list[Finding] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # what was checked and held
    statement_id: str = ""
    lines: int = 0
    key_pinned: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def reason(self) -> Reason:
        return self.findings[0].reason if self.findings else Reason.OK

    @property
    def detail(self) -> str:
        return self.findings[0].detail if self.findings else ""

    def __bool__(self) -> bool:
        return self.ok

    def reasons(self) -> list[str]:
        return sorted({str(f.reason) for f in self.findings})

    def fail(self, reason: Reason, detail: str, line: int | None = None) -> None:
        self.findings.append(Finding(reason, detail, line))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "reason": str(self.reason), "detail": self.detail, "statement_id": self.statement_id,
            "lines": self.lines, "key_pinned": self.key_pinned, "checks": list(self.checks),
            "findings": [f.to_dict() for f in self.findings],
        }


# ------------------------------------------------------------------ canonical bytes, signing


def canonical(obj: Any) -> bytes:
    """The bytes a statement signature covers: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def signed_bytes(statement: Mapping[str, Any]) -> bytes:
    """Everything but the ``signature`` field, canonically."""
    return canonical({k: v for k, v in statement.items() if k != "signature"})


def statement_id(statement: Mapping[str, Any]) -> str:
    """``st-`` + 20 hex of SHA-256 over the statement without its id and signature."""
    body = {k: v for k, v in statement.items() if k not in ("signature", "statement_id")}
    return "st-" + hashlib.sha256(canonical(body)).hexdigest()[:20]


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from SubjectPublicKeyInfo PEM (the workspace's ``audit-ed25519.pub.pem``)."""
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the key is a {type(key).__name__}, not Ed25519")
    return key


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def note_origin(key: Ed25519PublicKey) -> str:
    """The checkpoint origin (and note key name) derived from the key, as stylegate writes it."""
    return ORIGIN_PREFIX + hashlib.sha256(raw_public(key)).hexdigest()[:16]


def _verifies(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------- RFC 6962 / 9162


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _hash(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError(f"a hash is 64 hex characters, not {str(value)[:20]!r}")
    return bytes.fromhex(value)


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2: the root an inclusion path implies, or None when it cannot fit."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def consistent(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether ``proof`` shows ``(new_size, new_root)`` extends ``(old_size, old_root)``."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# ------------------------------------------------------------------------- C2SP checkpoints


@dataclass(frozen=True)
class SignedHead:
    origin: str
    size: int
    root: bytes


def read_checkpoint(note: str, key: Ed25519PublicKey) -> SignedHead:
    """A C2SP checkpoint note signed by ``key`` under its derived name; ValueError says why not."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise ValueError("the checkpoint is not a signed note (text, blank line, signature lines)")
    split = note.rfind("\n\n")
    text, sig_lines = note[: split + 1], note[split + 2 :].rstrip("\n").split("\n")
    name = note_origin(key)
    want_id = struct.unpack(">I", hashlib.sha256(name.encode() + b"\n\x01" + raw_public(key)).digest()[:4])[0]
    signed = False
    for line in sig_lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH:
            raise ValueError(f"malformed signature line {line[:40]!r}")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("a note signature is not base64") from exc
        if parts[1] != name or len(blob) < 5 or struct.unpack(">I", blob[:4])[0] != want_id:
            continue
        if not _verifies(key, blob[4:], text.encode("utf-8")):
            raise ValueError(f"the checkpoint signature by {name} does not verify (the note was altered or forged)")
        signed = True
    if not signed:
        raise ValueError(f"the checkpoint carries no signature by {name}")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise ValueError("the checkpoint body is not origin, size, root")
    if lines[0] != name:
        raise ValueError(f"the checkpoint is for log {lines[0]!r}, not {name!r}")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("the checkpoint root is not 32 bytes")
    return SignedHead(lines[0], int(lines[1]), root)


# -------------------------------------------------------------------------------- the checks


def _amount(price: float, rate: float, share: float) -> float:
    """How stylegate computes a line's amount (the same float operations, in the same order)."""
    return float(price) * float(share) * float(rate)


def _included(v: StatementVerdict, leaf_text: str, claimed: str, proof: Any, head: SignedHead, seq: int | None) -> dict[str, Any] | None:
    """Check that ``leaf_text`` is entry ``seq`` of the checkpointed tree; returns the parsed entry."""
    try:
        lh = leaf_hash(leaf_text.encode("utf-8"))
        if lh.hex() != claimed:
            v.fail(Reason.LEAF_MISMATCH, f"the audit entry hashes to {lh.hex()[:16]}…, not its leaf hash {str(claimed)[:16]}…", seq)
            return None
        entry = json.loads(leaf_text)
        index = int(entry["seq"]) - 1
        path = [_hash(h) for h in proof]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        v.fail(Reason.MALFORMED, f"an audit entry or its proof is unreadable: {exc}", seq)
        return None
    got = root_from_path(lh, index, head.size, path)
    if got != head.root:
        v.fail(Reason.BAD_INCLUSION, f"the inclusion proof for entry {index + 1} does not lead to the checkpoint root", seq)
        return None
    return entry if isinstance(entry, dict) else None


def _share_of(entry: Mapping[str, Any], artist_id: int) -> float | None:
    body = entry.get("body") if isinstance(entry.get("body"), Mapping) else {}
    for item in body.get("attribution", []) if isinstance(body, Mapping) else []:
        artist = item.get("artist") if isinstance(item, Mapping) else None
        if isinstance(artist, Mapping) and artist.get("id") == artist_id:
            return float(item.get("share"))
    return None


def _check_line(v: StatementVerdict, line: Mapping[str, Any], artist_id: int, price: float, head: SignedHead) -> float:
    seq = line.get("seq")
    entry = _included(v, line.get("leaf", ""), line.get("leaf_hash", ""), line.get("audit_path", []), head, seq)
    if entry is not None:
        share = _share_of(entry, artist_id)
        if entry.get("seq") != seq or entry.get("time") != line.get("time") or entry.get("kind") != "generate":
            v.fail(Reason.LEAF_MISMATCH, f"line {seq}: the audit entry is {entry.get('kind')} #{entry.get('seq')}, not this line's generation", seq)
        elif share is None or abs(share - float(line.get("share", -1))) > SHARE_TOLERANCE:
            v.fail(Reason.LEAF_MISMATCH, f"line {seq}: the audit entry gives this artist share {share}, the line {line.get('share')}", seq)
    try:
        amount, want = float(line["amount"]), _amount(price, float(line["rate"]), float(line["share"]))
    except (KeyError, TypeError, ValueError) as exc:
        v.fail(Reason.MALFORMED, f"line {seq}: no usable price, rate, share or amount ({exc})", seq)
        return 0.0
    if float(line.get("price", price)) != price:
        v.fail(Reason.BAD_AMOUNT, f"line {seq}: price {line.get('price')} is not the statement's {price}", seq)
    if not math.isfinite(amount) or abs(amount - want) > AMOUNT_TOLERANCE:
        v.fail(Reason.BAD_AMOUNT, f"line {seq}: amount {amount} ≠ price {price} × share {line['share']} × rate {line['rate']} = {want}", seq)
    return amount


def _check_totals(v: StatementVerdict, st: Mapping[str, Any], amounts: list[float], held: list[bool]) -> None:
    totals = st.get("totals") or {}
    lines = st.get("lines") or []
    want = {
        "lines": len(lines),
        "share_sum": math.fsum(float(line.get("share", 0)) for line in lines),
        "amount": math.fsum(amounts),
        "amount_held": math.fsum(a for a, h in zip(amounts, held) if h),
        "amount_payable": math.fsum(a for a, h in zip(amounts, held) if not h),
    }
    for name, value in want.items():
        got = totals.get(name)
        if not isinstance(got, (int, float)) or abs(float(got) - value) > AMOUNT_TOLERANCE * max(1, len(lines)):
            v.fail(Reason.BAD_TOTAL, f"totals.{name} is {got}, the lines add up to {value}")


def _check_commitment(v: StatementVerdict, st: Mapping[str, Any], head: SignedHead) -> None:
    c = st.get("commitment") or {}
    entry = _included(v, c.get("leaf", ""), c.get("leaf_hash", ""), c.get("audit_path", []), head, None)
    if entry is None:
        return
    raw_body = entry.get("body")
    body: Mapping[str, Any] = raw_body if isinstance(raw_body, Mapping) else {}
    artist_id = str(st["artist"]["id"])
    if entry.get("kind") != COMMITMENT_KIND or body.get("period") != st.get("period"):
        v.fail(Reason.BAD_COMMITMENT, f"the commitment entry is {entry.get('kind')} for {body.get('period')}, not this period's")
        return
    if body.get("corrects") != st.get("corrects"):
        v.fail(Reason.BAD_COMMITMENT, f"the commitment entry corrects {body.get('corrects')}, the statement {st.get('corrects')}")
    raw_counts = body.get("counts")
    counts: Mapping[str, Any] = raw_counts if isinstance(raw_counts, Mapping) else {}
    committed = counts.get(artist_id)
    if committed != c.get("count"):
        v.fail(Reason.BAD_COMMITMENT, f"the statement says the log commits to {c.get('count')} lines, the log's entry says {committed}")
    if committed != len(st.get("lines") or []):
        v.fail(Reason.COUNT_MISMATCH,
               f"the log commits to {committed} attributed generations for artist {artist_id} in {st['period'].get('label')}, "
               f"the statement lists {len(st.get('lines') or [])}")
    seqs = [line.get("seq") for line in st.get("lines") or []]
    if len(set(seqs)) != len(seqs):
        v.fail(Reason.COUNT_MISMATCH, "a generation is listed twice")
    last = body.get("last_seq")
    if isinstance(last, int) and any(not isinstance(s, int) or s > last for s in seqs):
        v.fail(Reason.BAD_COMMITMENT, f"a line comes after the period's last entry {last}")


def _check_later(v: StatementVerdict, head: SignedHead, key: Ed25519PublicKey, later_note: str, proof: Mapping[str, Any] | None) -> None:
    try:
        later = read_checkpoint(later_note, key)
    except ValueError as exc:
        v.fail(Reason.BAD_CHECKPOINT, f"the later checkpoint: {exc}")
        return
    if proof is None:
        if later.size == head.size and later.root == head.root:
            v.checks.append("the later checkpoint is the statement's")
            return
        v.fail(Reason.INCONSISTENT_CHECKPOINT, "no consistency proof came with the later checkpoint")
        return
    try:
        hashes = [_hash(h) for h in proof.get("proof", [])]
        sizes = (int(proof["old_size"]), int(proof["new_size"]))
    except (KeyError, TypeError, ValueError) as exc:
        v.fail(Reason.MALFORMED, f"the consistency proof is unreadable: {exc}")
        return
    if sizes != (head.size, later.size) or not consistent(head.size, later.size, head.root, later.root, hashes):
        v.fail(Reason.INCONSISTENT_CHECKPOINT,
               f"the checkpoint of {later.size} entries is not an extension of the statement's {head.size} (the log was rewritten)")
        return
    v.checks.append(f"the later checkpoint ({later.size} entries) extends the statement's ({head.size})")


def verify_statement(
    statement: Mapping[str, Any],
    public_key_pem: bytes | None = None,
    *,
    later_checkpoint: str | None = None,
    consistency: Mapping[str, Any] | None = None,
) -> StatementVerdict:
    """Every check above; ``public_key_pem`` is the operator key you trust (else the embedded one)."""
    v = StatementVerdict()
    try:
        if statement.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        embedded = load_public_key(str(statement["public_key"]).encode("ascii"))
        key = load_public_key(public_key_pem) if public_key_pem is not None else embedded
        signature = base64.b64decode(str(statement["signature"]), validate=True)
        artist_id = int(statement["artist"]["id"])
        price = float(statement["price_per_generation"])
        lines = list(statement["lines"])
        note = str(statement["checkpoint"]["note"])
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        v.fail(Reason.MALFORMED, f"the statement is incomplete or malformed: {exc}")
        return v
    v.statement_id, v.lines, v.key_pinned = str(statement.get("statement_id", "")), len(lines), public_key_pem is not None
    if raw_public(embedded) != raw_public(key):
        v.fail(Reason.WRONG_KEY, "the statement names another signing key than the one given")
        return v
    if not _verifies(key, signature, signed_bytes(statement)):
        v.fail(Reason.BAD_SIGNATURE, "the statement signature does not verify: its content was changed after signing")
    elif statement_id(statement) != v.statement_id:
        v.fail(Reason.BAD_SIGNATURE, "the statement id is not the hash of its content")
    else:
        v.checks.append("statement signature")
    try:
        head = read_checkpoint(note, key)
    except (ValueError, binascii.Error) as exc:
        v.fail(Reason.BAD_CHECKPOINT, str(exc))
        return v
    cp = statement["checkpoint"]
    if cp.get("size") != head.size or cp.get("root") != head.root.hex():
        v.fail(Reason.BAD_CHECKPOINT, "the checkpoint's size or root fields differ from its signed note")
    v.checks.append(f"checkpoint signature ({head.size} entries)")
    amounts = [_check_line(v, line, artist_id, price, head) for line in lines]
    held = [bool(line.get("held", False)) for line in lines]
    v.checks.append(f"{len(lines)} inclusion proofs and amounts")
    _check_totals(v, statement, amounts, held)
    _check_commitment(v, statement, head)
    v.checks.append("line count against the log's commitment")
    if later_checkpoint is not None:
        _check_later(v, head, key, later_checkpoint, consistency)
    return v


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a stylegate royalty statement (exit 0 valid, 1 invalid, 2 usage).")
    parser.add_argument("statement", type=Path, help="the statement's .json file")
    parser.add_argument("--key", type=Path, help="the operator's audit public key (PEM) you trust")
    parser.add_argument("--checkpoint", type=Path, help="a later C2SP checkpoint note of the same log")
    parser.add_argument("--consistency", type=Path, help="the consistency proof (JSON) from the statement's checkpoint to --checkpoint")
    parser.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    args = parser.parse_args(argv)
    try:
        statement = json.loads(args.statement.read_text("utf-8"))
        key = args.key.read_bytes() if args.key else None
        later = args.checkpoint.read_text("utf-8") if args.checkpoint else None
        proof = json.loads(args.consistency.read_text("utf-8")) if args.consistency else None
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not isinstance(statement, dict):
        print("error: the statement is not a JSON object", file=sys.stderr)
        return 2
    verdict = verify_statement(statement, key, later_checkpoint=later, consistency=proof)
    if args.json:
        print(json.dumps(verdict.to_dict(), ensure_ascii=False))
    elif verdict.ok:
        pinned = "" if verdict.key_pinned else " (key not pinned: pass --key to check who signed it)"
        print(f"statement {verdict.statement_id} OK: {verdict.lines} lines{pinned}")
        for check in verdict.checks:
            print(f"  ok  {check}")
    else:
        print(f"statement {verdict.statement_id or args.statement} INVALID: {verdict.reason}: {verdict.detail}")
        for finding in verdict.findings[1:]:
            print(f"  {finding.reason}: {finding.detail}")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
