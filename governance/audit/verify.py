"""Verification with reasons: proofs, entry proofs and the replay of a whole chain.

Every verifier here returns a :class:`~stylegate.governance.audit.verdict.Verdict` (truthy
when it holds) or a :class:`VerifyResult` (likewise), never a bare bool, and never raises on
malformed input: a proof that does not parse is refused with ``Reason.MALFORMED``.
RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency) are the algorithms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from stylegate.errors import AuditError

from . import signing
from .checkpoints import Checkpoint
from .entry import ZERO_HASH, canonical_json
from .merkle import EMPTY_ROOT, as_hash, frontier_push, frontier_root, leaf_hash, node_hash, root_from_inclusion_proof
from .verdict import Reason, Verdict, accept, refuse

__all__ = [
    "ChainChecker",
    "check_checkpoints",
    "check_tree_state",
    "Problems",
    "Reason",
    "Verdict",
    "VerifyResult",
    "verify_consistency",
    "verify_entry_proof",
    "verify_inclusion",
]

MAX_PROBLEMS = 50


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def verify_inclusion(leaf: bytes | str, index: int, tree_size: int, proof: Sequence[bytes | str], root: bytes | str) -> Verdict:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` of the tree ``(tree_size, root)``.

    ``leaf`` is the leaf *hash* (``leaf_hash(leaf_bytes)``); ``index`` is 0-based.
    """
    try:
        expected = as_hash(root)
        as_hash(leaf)
        path = [as_hash(p) for p in proof]
    except (ValueError, TypeError) as exc:
        return refuse(Reason.MALFORMED, f"the leaf, root or a proof hash is unusable: {exc}")
    if not (_is_size(index) and _is_size(tree_size)) or not 0 <= index < tree_size:
        return refuse(Reason.BAD_SIZE, f"leaf index {index!r} is not inside a tree of {tree_size!r} leaves")
    got = root_from_inclusion_proof(leaf, index, tree_size, path)
    if got is None:
        return refuse(Reason.BAD_PROOF, f"{len(path)} hashes is the wrong path length for leaf {index} of {tree_size}")
    if got != expected:
        return refuse(Reason.ROOT_MISMATCH, f"the path leads to root {got.hex()}, not {expected.hex()}")
    return accept()


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes | str, new_root: bytes | str, proof: Sequence[bytes | str]
) -> Verdict:
    """Whether ``proof`` shows the tree ``(new_size, new_root)`` extends ``(old_size, old_root)``."""
    try:
        first, second = as_hash(old_root), as_hash(new_root)
        path = [as_hash(p) for p in proof]
    except (ValueError, TypeError) as exc:
        return refuse(Reason.MALFORMED, f"a root or a proof hash is unusable: {exc}")
    if not (_is_size(old_size) and _is_size(new_size)) or not 0 <= old_size <= new_size:
        return refuse(Reason.BAD_SIZE, f"sizes must satisfy 0 <= old ({old_size!r}) <= new ({new_size!r})")
    if old_size == new_size or old_size == 0:
        if path:
            return refuse(Reason.BAD_PROOF, f"a proof from size {old_size} to {new_size} is empty, this one has {len(path)} hashes")
        want = second if old_size == new_size else EMPTY_ROOT
        if first != want:
            return refuse(Reason.ROOT_MISMATCH, f"the old root {first.hex()} is not {want.hex()}")
        return accept()
    if not path:
        return refuse(Reason.BAD_PROOF, f"a proof from size {old_size} to {new_size} cannot be empty")
    if old_size & (old_size - 1) == 0:
        path = [first, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return refuse(Reason.BAD_PROOF, "the proof has more hashes than the sizes allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return refuse(Reason.BAD_PROOF, "the proof has fewer hashes than the sizes need")
    if fr != first:
        return refuse(Reason.ROOT_MISMATCH, f"the proof leads to old root {fr.hex()}, not {first.hex()}")
    if sr != second:
        return refuse(Reason.ROOT_MISMATCH, f"the proof leads to new root {sr.hex()}, not {second.hex()}")
    return accept()


def verify_entry_proof(proof: Mapping[str, Any], public_key: Any = None) -> Verdict:
    """Check an object from :meth:`AuditLog.prove` with no database.

    The ``leaf`` text must hash to ``leaf_hash`` and the audit path must lead to ``root``; when
    ``public_key`` is given, the proof must carry a checkpoint for the same tree head signed by it.
    """
    try:
        text = proof["leaf"]
        lh = leaf_hash(text.encode("utf-8"))
        if lh.hex() != proof["leaf_hash"]:
            return refuse(Reason.LEAF_MISMATCH, f"the leaf text hashes to {lh.hex()}, not the claimed {proof['leaf_hash']}")
        included = verify_inclusion(lh, proof["index"], proof["tree_size"], proof["audit_path"], proof["root"])
        if not included:
            return included
        seq = json.loads(text).get("seq")
        if seq != proof["index"] + 1:
            return refuse(Reason.SEQ_MISMATCH, f"the leaf is entry {seq!r}, the proof places it at index {proof['index']}")
        if public_key is None:
            return accept()
        cp = proof.get("checkpoint")
        if not cp:
            return refuse(Reason.NO_CHECKPOINT, "no signed checkpoint covers this tree head yet")
        checkpoint = Checkpoint.from_dict(cp)
        if checkpoint.size != proof["tree_size"] or checkpoint.root != proof["root"]:
            return refuse(Reason.CHECKPOINT_MISMATCH,
                          f"the checkpoint signs size {checkpoint.size} root {checkpoint.root}, "
                          f"not the proof's size {proof['tree_size']} root {proof['root']}")
        return checkpoint.check(public_key)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return refuse(Reason.MALFORMED, f"the proof is incomplete or malformed: {exc!r}")


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

    def __bool__(self) -> bool:
        return bool(self.ok)

    @property
    def reason(self) -> Reason:
        return Reason.OK if self.ok else Reason.TAMPERED

    @property
    def detail(self) -> str:
        """The first problem found (empty when the log verified)."""
        return self.problems[0] if self.problems else ""

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


def check_tree_state(state: Any, chain: ChainChecker, problems: Problems) -> None:
    """Compare the stored ``tree_state`` row ``(size, frontier)`` with the replayed chain."""
    n = chain.size
    if state is None:
        problems.add("the tree state row is missing")
        return
    size, raw = state
    if not isinstance(size, int):
        problems.add(f"the tree state records a non-integer size {size!r}")
    elif size > n:
        problems.add(f"entries are missing: the tree state records {size} entries, {n} remain (truncated or deleted)", n + 1)
    elif size < n:
        problems.add(f"entries {size + 1}..{n} were not written by append (the tree state records {size})", size + 1)
    elif raw != json.dumps([h.hex() for h in chain.frontier]):
        problems.add("the tree state frontier does not match the entries")


def check_checkpoints(
    checkpoints: list[Checkpoint],
    key: Any,
    roots: dict[int, bytes],
    n: int,
    content_bad: int | None,
    problems: Problems,
) -> tuple[int, int | None]:
    """Check each stored checkpoint's signature by ``key`` and its root against the replayed
    ``roots``; returns (how many verified, the largest verified size or None)."""
    trusted = signing.key_id(key) if key is not None else None
    good_sizes: list[int] = []
    for cp in sorted(checkpoints, key=lambda c: (c.size, c.id)):
        label = f"checkpoint #{cp.id} (size {cp.size})"
        if key is None:
            problems.add(f"{label} cannot be checked: no public key given")
            continue
        check = cp.check(key)
        if not check.ok:
            other = f"; it names key {cp.key_id}, the trusted key is {trusted}" if cp.key_id != trusted else ""
            problems.add(f"{label} does not verify: {check.reason} ({check.detail}){other}")
            continue
        if cp.size > n:
            problems.add(f"the log was truncated: {label} was signed over {cp.size} entries, {n} remain", n + 1)
            continue
        if roots.get(cp.size, b"").hex() != cp.root:
            lo = max([s for s in good_sizes if s < cp.size], default=0) + 1
            if content_bad is not None and content_bad <= cp.size:
                problems.add(f"{label} does not match the entries (see the problems above)")
            else:
                problems.add(
                    f"{label} does not match entries 1..{cp.size}: an entry in {lo}..{cp.size} was rewritten "
                    "together with its stored hashes", lo
                )
            continue
        good_sizes.append(cp.size)
    return len(good_sizes), (max(good_sizes) if good_sizes else None)
