"""Audit log export for outside auditors (JSON lines) and its database-free verifier.

Format ``stylegate.audit.export.v1``, one JSON object a line:

1. the head: ``{"type": "head", "format", "tree_size", "root", "exported", "checkpoint",
   "consistency"}``; ``checkpoint`` is the latest signed checkpoint at or below ``tree_size``
   (``{id, size, root, time, key_id, public_key, signature}``, or null) and ``consistency``
   the RFC 6962 consistency proof from that checkpoint's tree to this head (or null);
2. one line per entry, in order: ``{"type": "entry", "seq", "index", "leaf", "leaf_hash",
   "audit_path"}``, where ``leaf`` is the entry's exact canonical JSON text (hash its UTF-8
   bytes; parse it for the content) and ``audit_path`` its inclusion proof in the head's tree.

A checkpoint is a C2SP signed note (see :mod:`~stylegate.governance.audit.checkpoints`); legacy
ones sign :func:`~stylegate.governance.audit.checkpoints.checkpoint_message`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stylegate.errors import AuditError
from stylegate.registry._fs import atomic_file

from . import signing
from .checkpoints import Checkpoint
from .entry import utc_now
from .merkle import MerkleTree, as_hash
from .verify import ChainChecker, Problems, VerifyResult, verify_consistency, verify_inclusion

log = logging.getLogger(__name__)

EXPORT_FORMAT = "stylegate.audit.export.v1"


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def export_log(out: Path, texts: Sequence[str], hashes: Sequence[bytes], checkpoint: Checkpoint | None) -> int:
    """Write an export of ``texts`` (entries 1..n) atomically to ``out``; returns n."""
    tree = MerkleTree(hashes)
    n = len(hashes)
    root = tree.root()
    header = {
        "type": "head",
        "format": EXPORT_FORMAT,
        "tree_size": n,
        "root": root.hex(),
        "exported": utc_now(),
        "checkpoint": checkpoint.to_dict() if checkpoint else None,
        "consistency": [h.hex() for h in tree.consistency_proof(checkpoint.size)] if checkpoint else None,
    }
    out = Path(out).expanduser()
    with atomic_file(out, "w") as fh:
        fh.write(_line(header))
        for i, text in enumerate(texts):
            entry = {
                "type": "entry",
                "seq": i + 1,
                "index": i,
                "leaf": text,
                "leaf_hash": hashes[i].hex(),
                "audit_path": [h.hex() for h in tree.inclusion_proof(i)],
            }
            fh.write(_line(entry))
    log.info("exported %d audit entries to %s", n, out)
    return n


def verify_export(path: str | os.PathLike[str], public_key: Any = None) -> VerifyResult:
    """Check an export with no database: chain, leaf hashes, every inclusion proof, the head,
    and the checkpoint's signature (by ``public_key``) and consistency with the head."""
    problems = Problems()
    chain = ChainChecker(problems)
    try:
        fh = open(Path(path).expanduser(), encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"cannot read the export {path}: {exc.strerror or exc}") from exc
    with fh:
        try:
            header = json.loads(fh.readline() or "null")
            n, root = int(header["tree_size"]), as_hash(header["root"])
            if header.get("format") != EXPORT_FORMAT:
                raise ValueError(f"format {header.get('format')!r}")
        except (ValueError, TypeError, KeyError) as exc:
            return VerifyResult(ok=False, entries=0, problems=[f"not a {EXPORT_FORMAT} export: {exc}"])
        for number, raw in enumerate(fh, start=2):
            try:
                line = json.loads(raw)
                seq, text = line["seq"], line["leaf"]
            except (ValueError, TypeError, KeyError):
                problems.add(f"line {number} is not an entry line", chain.expected)
                continue
            seq, leaf, _ = chain.add(seq, text, line.get("leaf_hash"))
            if line.get("index") != seq - 1 or not verify_inclusion(leaf, seq - 1, n, line.get("audit_path") or [], root):
                problems.add(f"entry {seq}'s inclusion proof does not lead to the exported root", seq)
    if chain.size < n:
        problems.add(f"the export was truncated: the head covers {n} entries, {chain.size} are present", chain.size + 1)
    elif chain.size > n:
        problems.add(f"the export holds {chain.size} entries, its head covers {n}", n + 1)
    if chain.size == n and chain.root != root and problems.first_bad is None:
        problems.add("the entries do not produce the exported root")
    good, latest = 0, None
    cp_data = header.get("checkpoint")
    if cp_data:
        try:
            cp = Checkpoint.from_dict(cp_data)
        except (KeyError, TypeError, ValueError):
            problems.add("the export's checkpoint is malformed")
        else:
            if public_key is None:
                problems.add(f"checkpoint #{cp.id} cannot be checked: no public key given")
            elif not (check := cp.check(signing.load_public_key(public_key))).ok:
                problems.add(f"checkpoint #{cp.id} (size {cp.size}) does not verify: {check.reason} ({check.detail})")
            elif not verify_consistency(cp.size, n, cp.root, root, header.get("consistency") or []):
                problems.add(f"the exported head is not consistent with checkpoint #{cp.id} (size {cp.size})", 1)
            else:
                good, latest = 1, cp.size
    return VerifyResult(
        ok=not problems,
        entries=chain.size,
        first_bad_seq=problems.first_bad,
        problems=problems.listing(),
        checkpoints=good,
        latest_checkpoint_size=latest,
        unsigned=chain.size - (latest or 0),
        root=chain.root.hex(),
    )

