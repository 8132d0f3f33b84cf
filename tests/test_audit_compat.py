"""Logs written before the audit package existed still verify and read through the typed records.

``tests/data/audit_v1`` is an export written by the flat ``governance/audit*.py`` modules (a
registry change, prompt and image checks, a hashed-prompt steer, a generation and its
correction, one signed C2SP checkpoint in the middle) with the public key that signed it.
"""

from __future__ import annotations

import json
from pathlib import Path

from stylegate.governance.audit import AuditEntry, AuditKind, DecisionRecord, verify_entry_proof, verify_export
from stylegate.governance.audit.entry import canonical_json
from stylegate.governance.audit.signing import load_public_key
from stylegate.reports.audit_summary import build_audit_summary

DATA = Path(__file__).parent / "data" / "audit_v1"


def _lines() -> list[dict]:
    return [json.loads(line) for line in (DATA / "export.jsonl").read_text("utf-8").splitlines()]


def test_an_export_from_before_the_package_verifies() -> None:
    result = verify_export(DATA / "export.jsonl", load_public_key(DATA / "public.pem"))
    assert result and result.entries == 6 and result.checkpoints == 1 and result.unsigned == 3


def test_old_entries_prove_with_reasons() -> None:
    head, *entries = _lines()
    for line in entries:
        proof = {**line, "tree_size": head["tree_size"], "root": head["root"], "checkpoint": None}
        assert verify_entry_proof(proof).reason == "ok"
        forged = dict(proof, root=entries[0]["leaf_hash"])
        assert verify_entry_proof(forged).reason == "root_mismatch"


def test_old_decision_bodies_read_back_byte_for_byte() -> None:
    _, *lines = _lines()
    entries = [AuditEntry.from_dict(json.loads(line["leaf"])) for line in lines]
    decisions = [e for e in entries if e.is_decision]
    assert [e.kind for e in decisions] == [AuditKind.CHECK_PROMPT, AuditKind.GENERATE, AuditKind.CHECK_PROMPT,
                                           AuditKind.CHECK_IMAGE]
    for entry in decisions:
        record = DecisionRecord.from_body(entry.body)
        assert canonical_json(record.to_body()) == canonical_json(entry.body)
    block, generation, steer, image = (e.decision() for e in decisions)
    assert block.action == "block" and block.evidence[0].artist.name == "Ann Example" and block.prompt
    assert block.source == {"file": "prompts.txt", "line": 3}
    assert [a.share for a in generation.attribution] == [0.6, 0.4] and generation.attribution[0].held
    assert generation.evidence[0].verified is False and generation.extra["seeds"] == [1]
    assert steer.prompt is None and steer.prompt_sha256 and steer.steer and "why_sha256" in steer.steer
    assert image.image["width"] == 64 and image.provenance == {"status": "absent"} and image.index is not None
    correction = next(e for e in entries if e.kind == AuditKind.GENERATE_CORRECTION).correction()
    assert correction.corrects == 3 and correction.written == ("a.png",)


def test_reports_read_old_entries() -> None:
    _, *lines = _lines()
    summary = build_audit_summary([json.loads(line["leaf"]) for line in lines])
    assert summary.meta["entries"] == 4
    counts = {(r.entry_kind, r.decision): r.count for r in summary.decisions.itertuples()}
    assert counts == {("check.image", "allow"): 1, ("check.prompt", "block"): 1, ("check.prompt", "steer"): 1,
                      ("generate", "attribute"): 1}
    assert sorted(summary.scores["evidence_kind"]) == ["name", "name", "style"]
