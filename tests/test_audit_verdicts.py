"""Verifiers say why: every tampered proof, leaf, signature or checkpoint fails with its reason.

Also the typed pieces the writer and the readers share: the AuditKind enum, the DecisionRecord
(byte-identical to the bodies written before it existed), and the registry outbox.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from audit_db import raw_sql

from stylegate.governance.audit import (
    AuditEntry,
    AuditKind,
    AuditLog,
    AuditOutbox,
    CorrectionRecord,
    DecisionRecord,
    Reason,
    Verdict,
    verify_consistency,
    verify_entry_proof,
    verify_inclusion,
)
from stylegate.governance.audit.checkpoints import Checkpoint
from stylegate.governance.audit.entry import canonical_json
from stylegate.governance.audit.merkle import MerkleTree, leaf_hash
from stylegate.governance.audit.signing import Signer, verify_signature
from stylegate.governance.decision import Action, ArtistRef, Attribution, Decision, Evidence, EvidenceKind

LEAVES = [leaf_hash(f"leaf {i}".encode()) for i in range(11)]
TREE = MerkleTree(LEAVES)


@pytest.fixture()
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture()
def log(audit_target):  # on both backends
    with AuditLog.open(audit_target) as lg:
        for i in range(7):
            lg.append(AuditKind.CHECK_PROMPT, {"prompt": f"a cat {i}", "decision": "allow"})
        yield lg


def _flip(hex_text: str) -> str:
    return ("1" if hex_text[0] == "0" else "0") + hex_text[1:]


# -- the verdict -----------------------------------------------------------------------------


def test_a_verdict_is_truthy_exactly_when_ok() -> None:
    assert Verdict(True) and not Verdict(False, Reason.BAD_PROOF, "x")
    assert Verdict(False, Reason.ROOT_MISMATCH, "d").to_dict() == {"ok": False, "reason": "root_mismatch", "detail": "d"}
    assert Reason.ROOT_MISMATCH == "root_mismatch" and f"{Reason.BAD_SIZE}" == "bad_size"
    assert json.dumps({"r": Reason.MALFORMED}) == '{"r": "malformed"}'


# -- inclusion and consistency proofs ------------------------------------------------------------


def test_inclusion_failures_name_their_reason() -> None:
    path = TREE.inclusion_proof(5)
    root = TREE.root()
    assert verify_inclusion(LEAVES[5], 5, 11, path, root).reason == Reason.OK
    tampered_leaf = verify_inclusion(leaf_hash(b"forged"), 5, 11, path, root)
    assert not tampered_leaf and tampered_leaf.reason == Reason.ROOT_MISMATCH and root.hex() in tampered_leaf.detail
    tampered_path = [path[0], bytes(32), *path[2:]]
    assert verify_inclusion(LEAVES[5], 5, 11, tampered_path, root).reason == Reason.ROOT_MISMATCH
    assert verify_inclusion(LEAVES[5], 5, 11, path[:-1], root).reason == Reason.BAD_PROOF
    assert verify_inclusion(LEAVES[5], 5, 11, [*path, root], root).reason == Reason.BAD_PROOF
    assert verify_inclusion(LEAVES[5], 11, 11, path, root).reason == Reason.BAD_SIZE
    assert verify_inclusion(LEAVES[5], 5, 11, ["nothex"], root).reason == Reason.MALFORMED
    assert verify_inclusion(b"short", 5, 11, path, root).reason == Reason.MALFORMED


def test_consistency_failures_name_their_reason() -> None:
    proof = TREE.consistency_proof(6)
    old, new = TREE.root(6), TREE.root()
    assert verify_consistency(6, 11, old, new, proof)
    assert verify_consistency(6, 11, TREE.root(5), new, proof).reason == Reason.ROOT_MISMATCH
    forged_new = verify_consistency(6, 11, old, TREE.root(10), proof)
    assert forged_new.reason == Reason.ROOT_MISMATCH and "new root" in forged_new.detail
    assert verify_consistency(6, 11, old, new, proof[:-1]).reason == Reason.BAD_PROOF
    assert verify_consistency(6, 11, old, new, []).reason == Reason.BAD_PROOF
    assert verify_consistency(11, 6, old, new, proof).reason == Reason.BAD_SIZE
    assert verify_consistency(6, 11, "zz", new, proof).reason == Reason.MALFORMED
    assert verify_consistency(4, 4, old, new, []).reason == Reason.ROOT_MISMATCH


# -- entry proofs ----------------------------------------------------------------------------------


def test_entry_proof_failures_name_their_reason(log: AuditLog, signer: Signer) -> None:
    cp = log.checkpoint(signer)
    proof = log.prove(3, cp.size)
    assert verify_entry_proof(proof, signer.public_key).reason == Reason.OK
    edited = dict(proof, leaf=proof["leaf"].replace("a cat 2", "a dog 2"))
    assert verify_entry_proof(edited).reason == Reason.LEAF_MISMATCH
    rehashed = dict(edited, leaf_hash=leaf_hash(edited["leaf"].encode()).hex())
    assert verify_entry_proof(rehashed).reason == Reason.ROOT_MISMATCH
    bad_path = dict(proof, audit_path=[_flip(proof["audit_path"][0]), *proof["audit_path"][1:]])
    assert verify_entry_proof(bad_path).reason == Reason.ROOT_MISMATCH
    assert verify_entry_proof(dict(proof, audit_path=proof["audit_path"][:-1])).reason == Reason.BAD_PROOF
    assert verify_entry_proof(dict(proof, checkpoint=None), signer.public_key).reason == Reason.NO_CHECKPOINT
    assert verify_entry_proof(proof, Signer.generate().public_key).reason == Reason.UNKNOWN_KEY
    forged_sig = dict(proof["checkpoint"], note=_forge_note_signature(proof["checkpoint"]["note"]))
    assert verify_entry_proof(dict(proof, checkpoint=forged_sig), signer.public_key).reason == Reason.BAD_SIGNATURE
    other_head = dict(proof["checkpoint"], size=cp.size - 1)
    assert verify_entry_proof(dict(proof, checkpoint=other_head), signer.public_key).reason == Reason.CHECKPOINT_MISMATCH
    missing = {k: v for k, v in proof.items() if k != "audit_path"}
    assert verify_entry_proof(missing).reason == Reason.MALFORMED


def test_an_entry_proof_for_a_renumbered_leaf_fails_on_its_seq() -> None:
    texts = [canonical_json({"seq": 1 if i == 1 else i + 1, "body": {}}) for i in range(3)]  # entry 2 claims seq 1
    hashes = [leaf_hash(t.encode()) for t in texts]
    tree = MerkleTree(hashes)
    proof = {"leaf": texts[1], "leaf_hash": hashes[1].hex(), "index": 1, "tree_size": 3,
             "audit_path": [h.hex() for h in tree.inclusion_proof(1)], "root": tree.root().hex()}
    verdict = verify_entry_proof(proof)
    assert not verdict and verdict.reason == Reason.SEQ_MISMATCH


def _forge_note_signature(note: str) -> str:
    """The same note with the last byte of its signature changed (same key name and id)."""
    text, _, sig_line = note.rstrip("\n").rpartition("\n")
    prefix, _, blob = sig_line.rpartition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    return f"{text}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


# -- checkpoints and signatures ------------------------------------------------------------------------


def test_checkpoint_failures_name_their_reason(log: AuditLog, signer: Signer) -> None:
    cp = log.checkpoint(signer)
    assert cp.check(signer.public_key).reason == Reason.OK
    assert cp.check(Signer.generate().public_key).reason == Reason.UNKNOWN_KEY
    assert replace(cp, note=_forge_note_signature(cp.note)).check(signer.public_key).reason == Reason.BAD_SIGNATURE
    assert replace(cp, root=_flip(cp.root)).check(signer.public_key).reason == Reason.ROOT_MISMATCH
    assert replace(cp, size=cp.size + 1).check(signer.public_key).reason == Reason.BAD_SIZE
    assert replace(cp, root="zz").check(signer.public_key).reason == Reason.MALFORMED
    assert replace(cp, note="not a note\n").check(signer.public_key).reason == Reason.MALFORMED
    assert not cp.verify(Signer.generate().public_key)


def test_legacy_checkpoint_failures_name_their_reason(signer: Signer) -> None:
    from stylegate.governance.audit.checkpoints import checkpoint_message

    root, time = "ab" * 32, "2024-01-01T00:00:00.000000+00:00"
    sig = signer.sign(checkpoint_message(3, root, time)).hex()
    cp = Checkpoint(1, 3, root, time, signer.key_id, signer.public_pem().hex(), sig)
    assert cp.check(signer.public_key)
    assert replace(cp, size=4).check(signer.public_key).reason == Reason.BAD_SIGNATURE
    assert cp.check(Signer.generate().public_key).reason == Reason.UNKNOWN_KEY
    assert replace(cp, signature="zz").check(signer.public_key).reason == Reason.MALFORMED


def test_signature_failures_name_their_reason(signer: Signer) -> None:
    sig = signer.sign(b"message")
    assert verify_signature(signer.public_key, b"message", sig).reason == Reason.OK
    forged = verify_signature(signer.public_key, b"messagE", sig)
    assert not forged and forged.reason == Reason.BAD_SIGNATURE and signer.key_id in forged.detail
    assert verify_signature(signer.public_key, b"message", sig[:63]).reason == Reason.MALFORMED


def test_a_tampered_log_fails_with_a_reason_and_the_first_problem(log: AuditLog, signer: Signer, audit_target) -> None:
    assert log.verify() and log.verify().reason == Reason.OK
    raw_sql(audit_target, "UPDATE entries SET entry = replace(entry, 'a cat 4', 'a dog 4') WHERE seq = 5")
    result = log.verify()
    assert not result and result.reason == Reason.TAMPERED and "entry 5" in result.detail


# -- kinds, records and the outbox ------------------------------------------------------------------------


def test_audit_kinds_are_stored_as_their_plain_text(log: AuditLog) -> None:
    assert [k.value for k in AuditKind] == ["check.prompt", "check.image", "generate", "generate.correction",
                                            "policy.calibrated", "statements.issued", "scan.finding"]
    seq = log.append(AuditKind.GENERATE, {"decision": "allow"})
    stored = log.entry(seq)
    assert stored["kind"] == "generate" and type(stored["kind"]) is str
    assert '"kind":"generate"' in canonical_json(stored)
    assert [e["seq"] for e in log.entries(kinds=[AuditKind.GENERATE])] == [seq]
    assert log.verify()


GOLDEN_BODY = (
    '{"attribution":[{"artist":{"id":3,"name":"Ann Example"},"consent":"royalty","held":true,"share":1.0}],'
    '"decision":"steer","evidence":[{"action":"block","artist":{"id":3,"name":"Ann Example"},"consent":"opt-out",'
    '"detail":{"alias":"A. E."},"kind":"name","rule":"name","score":1.0,"threshold":0.9,"verified":true}],'
    '"image":{"sha256":"ab"},"index":{"count":12,"factory":"IDMap2,Flat"},"model":{"dim":64,"model":"tiny"},'
    '"policy_hash":"p1","prompt":"by Ann Example","reasons":["named"],"source":{"file":"f.txt","line":2},'
    '"steer":{"prompt":"a boat"},"subject":"prompt"}'
)  # what decision_body wrote for this decision before DecisionRecord existed


def _decision() -> Decision:
    artist = ArtistRef(3, "Ann Example")
    return Decision(
        subject="prompt", action=Action.STEER,
        evidence=[Evidence(EvidenceKind.NAME, artist, "opt-out", 1.0, 0.9, "name", Action.BLOCK, detail={"alias": "A. E."})],
        attribution=[Attribution(artist, 1.0, "royalty", held=True)], reasons=["named"], policy_version="p1",
        embedder={"model": "tiny", "dim": 64}, steer={"prompt": "a boat"},
    )


def test_a_decision_record_writes_the_same_body_as_before_and_reads_it_back(tmp_path: Path) -> None:
    record = DecisionRecord.from_decision(_decision().to_dict(), prompt="by Ann Example",
                                          index={"factory": "IDMap2,Flat", "count": 12},
                                          source={"file": "f.txt", "line": 2}, image={"sha256": "ab"})
    assert canonical_json(record.to_body()) == GOLDEN_BODY
    back = DecisionRecord.from_body(json.loads(GOLDEN_BODY))
    assert canonical_json(back.to_body()) == GOLDEN_BODY
    assert back.action == "steer" and back.policy_version == "p1" and back.embedder["dim"] == 64
    assert back.evidence[0].artist.id == 3 and back.evidence[0].score == 1.0 and back.evidence[0].consent == "opt-out"
    assert back.attribution[0].share == 1.0 and back.attribution[0].held is True
    assert back.source == {"file": "f.txt", "line": 2} and back.image == {"sha256": "ab"}
    with AuditLog.open(tmp_path / "a.db", prompt_mode="hash") as lg:
        seq = lg.append(AuditKind.CHECK_PROMPT, record)
        stored = AuditEntry.from_dict(lg.entry(seq))
    read = stored.decision()
    assert stored.is_decision and read.prompt is None and read.prompt_sha256 and len(read.prompt_sha256) == 64
    assert read.evidence == record.evidence and read.attribution == record.attribution


def test_a_correction_record_round_trips() -> None:
    body = {"corrects": 4, "unwritten": [{"path": "b.png", "error": "disk full"}], "written": ["a.png"]}
    record = CorrectionRecord.from_body(body)
    assert record.corrects == 4 and record.written == ("a.png",) and record.to_body() == body


class _Refusing:
    def append(self, kind: object, body: object) -> int:
        raise OSError("disk full (injected)")


def test_the_outbox_parks_what_the_log_refuses_and_replays_it(tmp_path: Path, audit_target) -> None:
    outbox = AuditOutbox(tmp_path)
    assert outbox.deliver(_Refusing(), "registry.artist.added", {"artist": {"id": 1}}) is None  # type: ignore[arg-type]

    def cannot_open() -> AuditLog:
        raise OSError("locked")

    assert outbox.deliver(cannot_open, "registry.works.added", {"works": [2]}) is None
    assert outbox.unaudited == ["registry.artist.added: disk full (injected)", "registry.works.added: locked"]
    assert [json.loads(ln)["kind"] for ln in outbox.path.read_text().splitlines()] == [
        "registry.artist.added", "registry.works.added"]
    with AuditLog.open(audit_target) as lg:
        assert outbox.replay(lg) == 2 and not outbox.path.exists()
        first, second = lg.entries()
        assert first["body"]["artist"] == {"id": 1} and first["body"]["parked"]["error"] == "disk full (injected)"
        assert second["kind"] == "registry.works.added"
        assert outbox.deliver(lambda: lg, "registry.artist.removed", {"artist": {"id": 1}}) == 3
        assert outbox.replay(lg) == 0 and lg.verify()


def test_the_audit_package_knows_nothing_above_it() -> None:
    code = ("import sys, stylegate.governance.audit, stylegate.governance.audit.outbox; "
            "print([m for m in ('stylegate.governance.decision', 'stylegate.workspace', 'stylegate.cli', "
            "'stylegate.generator', 'stylegate.governance.gate') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
