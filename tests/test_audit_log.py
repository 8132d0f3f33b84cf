"""The audit log: appends, prompt modes, checkpoints, proofs, export, and tamper detection.

Every test runs on both backends (a SQLite file, a real PostgreSQL database). Tampering is
done the way an intruder would: straight into the database (tests/audit_db.py).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Union

import pytest
from audit_db import RawDB, raw_sql

from stylegate.errors import AuditEntryNotFound, AuditError
from stylegate.governance.audit import (
    AuditLog,
    DecisionRecord,
    verify_consistency,
    verify_entry_proof,
    verify_export,
    verify_inclusion,
)
from stylegate.governance.audit.checkpoints import note_origin, note_verifier, parse_checkpoint, verify_checkpoint
from stylegate.governance.audit.entry import ZERO_HASH, canonical_json, leaf_bytes
from stylegate.governance.audit.merkle import EMPTY_ROOT, frontier_push, frontier_root, leaf_hash, merkle_root
from stylegate.governance.audit.signing import Signer, load_or_create_signer
from stylegate.governance.decision import Action, ArtistRef, Attribution, Decision, Evidence, EvidenceKind


def _fill(log: AuditLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        log.append("check.prompt", {"prompt": f"a cat number {i}", "decision": "allow", "score": i / 7})


Target = Union[str, Path]


@pytest.fixture()
def db(audit_target: Target) -> Target:
    return audit_target


@pytest.fixture()
def signer(home: Path) -> Signer:
    return load_or_create_signer(home)


def _sql(db: Target, statement: str, *args: object) -> None:
    raw_sql(db, statement, *args)


def _verify(db: Target, signer: Signer):
    with AuditLog.open(db) as log:
        return log.verify(signer.public_key)


# -- the happy path -------------------------------------------------------------------------


def test_append_assigns_contiguous_seqs_and_chains(db: Target) -> None:
    with AuditLog.open(db) as log:
        assert len(log) == 0
        assert log.head().root == EMPTY_ROOT.hex()
        seqs = [log.append("check.prompt", {"prompt": "a sunset", "n": i}) for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        assert len(log) == 5
        first, second = log.entry(1), log.entry(2)
        assert first["prev"] == ZERO_HASH and first["seq"] == 1 and first["kind"] == "check.prompt" and first["v"] == 1
        assert second["prev"] == leaf_hash(leaf_bytes(first)).hex()
        assert first["time"].endswith("+00:00")
        leaves = [leaf_hash(leaf_bytes(log.entry(s))) for s in seqs]
        assert log.head().root == merkle_root(leaves).hex()
        assert [e["seq"] for e in log.entries(2, 4)] == [2, 3, 4]
        with pytest.raises(AuditEntryNotFound) as err:
            log.entry(6)
        assert err.value.exit_code == 2
        result = log.verify()
        assert result.ok and result.entries == 5 and result.first_bad_seq is None and result.unsigned == 5


def test_canonical_json_is_sorted_compact_utf8() -> None:
    text = canonical_json({"b": 1, "a": ["é", 0.5, None, True], "c": {"z": 1, "y": 2}})
    assert text == '{"a":["é",0.5,null,true],"b":1,"c":{"y":2,"z":1}}'
    assert leaf_bytes({"k": "é"}) == '{"k":"é"}'.encode()
    with pytest.raises(AuditError):
        canonical_json({"x": float("nan")})
    with pytest.raises(AuditError):
        canonical_json({"x": object()})


def test_prompt_modes(db: Target) -> None:
    with AuditLog.open(db, prompt_mode="hash") as log:
        log.append("check.prompt", {"prompt": "in the style of Ann Example", "steer": {"prompt": "a harbour"}})
        log.append("check.prompt", {"prompt": "a harbour at dusk"}, prompt_mode="full")
        hashed, full = log.entry(1)["body"], log.entry(2)["body"]
    assert "prompt" not in hashed and hashed["prompt_sha256"] == hashlib.sha256(b"in the style of Ann Example").hexdigest()
    assert "prompt" not in hashed["steer"] and "prompt_sha256" in hashed["steer"]
    assert "Ann Example" not in json.dumps(hashed) and "harbour" not in json.dumps(hashed)
    assert full["prompt"] == "a harbour at dusk" and full["prompt_sha256"] == hashlib.sha256(b"a harbour at dusk").hexdigest()
    with pytest.raises(AuditError):
        AuditLog.open(db, prompt_mode="none")  # type: ignore[arg-type]


def test_decision_body_and_kind_validation(db: Target) -> None:
    artist = ArtistRef(3, "Ann Example")
    decision = Decision(
        subject="prompt",
        action=Action.BLOCK,
        evidence=[Evidence(EvidenceKind.NAME, artist, "opt-out", 1.0, 0.9, "name", Action.BLOCK)],
        attribution=[Attribution(artist, 1.0, "royalty")],
        policy_version="p" * 64,
        embedder={"model": "tiny", "sha256": "e" * 64, "dim": 64},
    )
    body = DecisionRecord.from_decision(decision.to_dict(), prompt="by Ann Example", index={"factory": "IDMap2,Flat", "count": 12})
    with AuditLog.open(db) as log:
        seq = log.append("check.prompt", body)
        stored = log.entry(seq)["body"]
        assert stored["decision"] == "block" and stored["policy_hash"] == "p" * 64
        assert stored["evidence"][0]["artist"] == {"id": 3, "name": "Ann Example"}
        assert stored["attribution"][0]["share"] == 1.0
        assert stored["model"]["dim"] == 64 and stored["index"]["count"] == 12
        assert stored["prompt"] == "by Ann Example"
        for bad in ("", "Check.Prompt", "check prompt", "x" * 65, "check..prompt"):
            with pytest.raises(AuditError):
                log.append(bad, {})
        with pytest.raises(AuditError):
            log.append("generate", {"image": object()})
        assert len(log) == 1  # nothing half-written
        log.append("registry.artist.added", {"artist": {"id": 3, "name": "Ann Example"}, "revision": 4})
        assert [e["kind"] for e in log.entries(kinds=["registry.artist.added"])] == ["registry.artist.added"]


def test_checkpoint_prove_and_export(db: Target, signer: Signer, tmp_path: Path) -> None:
    with AuditLog.open(db) as log:
        empty = log.checkpoint(signer)
        assert empty.size == 0 and empty.root == EMPTY_ROOT.hex()
        _fill(log, 13)
        cp = log.checkpoint(signer)
        assert (cp.size, cp.root) == (13, log.head().root) and cp.key_id == signer.key_id
        assert cp.verify(signer.public_key) and not cp.verify(Signer.generate().public_key)
        body = parse_checkpoint(cp.message().decode())
        assert (body.size, body.root.hex(), body.origin) == (13, cp.root, note_origin(signer.public_key))
        assert verify_checkpoint(cp.note, [note_verifier(signer.public_key)], size=13).ok
        _fill(log, 4, start=13)
        assert log.latest_checkpoint() == cp and len(log.checkpoints()) == 2

        proof = log.prove(6, cp.size)
        assert proof["checkpoint"]["signature"] == cp.signature
        assert verify_entry_proof(proof, signer.public_key)
        assert verify_inclusion(proof["leaf_hash"], proof["index"], proof["tree_size"], proof["audit_path"], cp.root)
        assert json.loads(proof["leaf"])["seq"] == 6
        assert not verify_entry_proof(proof, Signer.generate().public_key)
        tampered = dict(proof, leaf=proof["leaf"].replace("number 5", "number 9"))
        assert not verify_entry_proof(tampered)

        now = log.prove(17)
        assert now["tree_size"] == 17 and now["checkpoint"] is None and verify_entry_proof(now)
        assert not verify_entry_proof(now, signer.public_key)  # no signed head covers it yet

        cons = log.prove_consistency(cp.size)
        assert verify_consistency(cons["old_size"], cons["new_size"], cp.root, log.head().root, cons["proof"])

        out = tmp_path / "export.jsonl"
        assert log.export(out) == 17
        lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert lines[0]["type"] == "head" and lines[0]["checkpoint"]["size"] == 13 and len(lines) == 18
        for line in lines[1:]:
            assert verify_inclusion(leaf_hash(line["leaf"].encode()), line["index"], 17, line["audit_path"], lines[0]["root"])
    result = verify_export(out, signer.public_key)
    assert result.ok, result.problems
    assert (result.entries, result.latest_checkpoint_size, result.unsigned) == (17, 13, 4)

    # an edited export names the entry
    lines[9]["leaf"] = lines[9]["leaf"].replace("number 8", "number 0")
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    bad = verify_export(out, signer.public_key)
    assert not bad.ok and bad.first_bad_seq == 9


def test_head_is_maintained_incrementally(db: Target) -> None:
    with AuditLog.open(db) as log:
        frontier: list[bytes] = []
        for i in range(20):
            seq = log.append("generate", {"i": i})
            frontier = frontier_push(frontier, i, leaf_hash(leaf_bytes(log.entry(seq))))
            assert log.head().root == frontier_root(frontier).hex()


# -- tampering ------------------------------------------------------------------------------


@pytest.fixture()
def signed_log(db: Target, signer: Signer) -> Target:
    """20 entries, a checkpoint at 15, 5 unsigned entries after it."""
    with AuditLog.open(db) as log:
        _fill(log, 15)
        log.checkpoint(signer)
        _fill(log, 5, start=15)
        assert log.verify(signer.public_key).ok
    return db


def test_edit_is_named(signed_log: Target, signer: Signer) -> None:
    _sql(signed_log, "UPDATE entries SET entry = replace(entry, '\"allow\"', '\"block\"') WHERE seq = 7")
    result = _verify(signed_log, signer)
    assert not result.ok and result.first_bad_seq == 7
    assert any("entry 7" in p for p in result.problems)


def test_edit_after_the_checkpoint_is_named(signed_log: Target, signer: Signer) -> None:
    _sql(signed_log, "UPDATE entries SET entry = replace(entry, 'number 18', 'number 99') WHERE seq = 19")
    assert _verify(signed_log, signer).first_bad_seq == 19


def test_edit_with_recomputed_leaf_hash_is_named(signed_log: Target, signer: Signer) -> None:
    conn = RawDB(signed_log)
    text = conn.execute("SELECT entry FROM entries WHERE seq = 4").fetchone()[0]
    forged = text.replace("number 3", "number 0")
    with conn:
        conn.execute("UPDATE entries SET entry = ?, leaf_hash = ? WHERE seq = 4", (forged, leaf_hash(forged.encode()).hex()))
    conn.close()
    result = _verify(signed_log, signer)
    assert not result.ok and result.first_bad_seq == 4, result.problems


def test_full_rewrite_is_caught_by_the_checkpoint(signed_log: Target, signer: Signer) -> None:
    """Rewrite entry 3 and recompute every stored hash after it: only the signature knows."""
    conn = RawDB(signed_log)
    rows = conn.execute("SELECT seq, entry FROM entries ORDER BY seq").fetchall()
    frontier: list[bytes] = []
    prev = ZERO_HASH
    with conn:
        for i, (seq, text) in enumerate(rows):
            obj = json.loads(text)
            if seq == 3:
                obj["body"]["decision"] = "block"
            obj["prev"] = prev
            new = canonical_json(obj)
            leaf = leaf_hash(new.encode())
            frontier = frontier_push(frontier, i, leaf)
            conn.execute(
                "UPDATE entries SET entry = ?, leaf_hash = ?, root_hash = ? WHERE seq = ?",
                (new, leaf.hex(), frontier_root(frontier).hex(), seq),
            )
            prev = leaf.hex()
        conn.execute("UPDATE tree_state SET frontier = ? WHERE id = 1", (json.dumps([h.hex() for h in frontier]),))
    conn.close()
    result = _verify(signed_log, signer)
    assert not result.ok and result.first_bad_seq == 1  # no earlier checkpoint narrows it down
    assert any("checkpoint" in p and "1..15" in p for p in result.problems)
    assert result.checkpoints == 0


def test_deletion_is_named(signed_log: Target, signer: Signer) -> None:
    _sql(signed_log, "DELETE FROM entries WHERE seq = 9")
    result = _verify(signed_log, signer)
    assert not result.ok and result.first_bad_seq == 9
    assert any("entry 9 is missing" in p for p in result.problems)


def test_deleting_the_first_entry_is_named(signed_log: Target, signer: Signer) -> None:
    _sql(signed_log, "DELETE FROM entries WHERE seq = 1")
    assert _verify(signed_log, signer).first_bad_seq == 1


def test_reordering_is_named(signed_log: Target, signer: Signer) -> None:
    conn = RawDB(signed_log)
    with conn:  # swap entries 5 and 6 by renumbering their rows
        conn.execute("UPDATE entries SET seq = -5 WHERE seq = 5")
        conn.execute("UPDATE entries SET seq = 5 WHERE seq = 6")
        conn.execute("UPDATE entries SET seq = 6 WHERE seq = -5")
    conn.close()
    result = _verify(signed_log, signer)
    assert not result.ok and result.first_bad_seq == 5


def test_reordering_with_rewritten_numbers_is_named(signed_log: Target, signer: Signer) -> None:
    """Swap the contents of 11 and 12, fix their seq fields and leaf hashes: the chain breaks."""
    conn = RawDB(signed_log)
    a, b = (json.loads(conn.execute("SELECT entry FROM entries WHERE seq = ?", (s,)).fetchone()[0]) for s in (11, 12))
    a["seq"], b["seq"] = 12, 11
    with conn:
        for seq, obj in ((11, b), (12, a)):
            text = canonical_json(obj)
            conn.execute("UPDATE entries SET entry = ?, leaf_hash = ? WHERE seq = ?", (text, leaf_hash(text.encode()).hex(), seq))
    conn.close()
    result = _verify(signed_log, signer)
    assert not result.ok and result.first_bad_seq == 11, result.problems


def test_truncation_below_a_checkpoint_is_named(signed_log: Target, signer: Signer) -> None:
    conn = RawDB(signed_log)
    with conn:  # cut the tail and make the tree state agree, leaving only the signature to tell
        conn.execute("DELETE FROM entries WHERE seq > 12")
        frontier: list[bytes] = []
        for i, (h,) in enumerate(conn.execute("SELECT leaf_hash FROM entries ORDER BY seq").fetchall()):
            frontier = frontier_push(frontier, i, bytes.fromhex(h))
        conn.execute("UPDATE tree_state SET size = 12, frontier = ? WHERE id = 1", (json.dumps([h.hex() for h in frontier]),))
    conn.close()
    result = _verify(signed_log, signer)
    assert not result.ok and result.entries == 12 and result.first_bad_seq == 13
    assert any("truncated" in p for p in result.problems)


def test_truncation_of_the_unsigned_tail_is_named(signed_log: Target, signer: Signer) -> None:
    _sql(signed_log, "DELETE FROM entries WHERE seq > 17")
    result = _verify(signed_log, signer)
    assert not result.ok and result.first_bad_seq == 18


def test_forged_checkpoint_fails(signed_log: Target, signer: Signer) -> None:
    intruder = Signer.generate()
    with AuditLog.open(signed_log) as log:
        forged = log.checkpoint(intruder)  # a well-formed checkpoint by the wrong key
        assert log.verify(intruder.public_key).ok is False  # the real checkpoint fails under the intruder's key
        result = log.verify(signer.public_key)
    assert not result.ok and result.first_bad_seq is None
    assert any(f"#{forged.id}" in p and "unknown_key" in p and intruder.key_id in p for p in result.problems)


def test_altered_checkpoint_fails(signed_log: Target, signer: Signer) -> None:
    _sql(signed_log, "UPDATE checkpoints SET size = 20, root_hash = ? WHERE id = 1", "ab" * 32)
    result = _verify(signed_log, signer)
    assert not result.ok and any("#1" in p and "bad_size" in p for p in result.problems)


def test_checkpoint_refuses_a_damaged_log(signed_log: Target, signer: Signer) -> None:
    _sql(signed_log, "UPDATE entries SET root_hash = ? WHERE seq = 15", "cd" * 32)
    with AuditLog.open(signed_log) as log, pytest.raises(AuditError, match="refusing to sign"):
        log.checkpoint(signer)


def test_verify_without_a_key_reports_unchecked_checkpoints(signed_log: Target) -> None:
    with AuditLog.open(signed_log) as log:
        result = log.verify()
    assert not result.ok and result.first_bad_seq is None and "no public key" in result.problems[0]


def test_no_heavy_imports() -> None:
    code = "import sys, stylegate.governance.audit; print(any(m in sys.modules for m in ('torch', 'faiss', 'numpy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_open_without_create_refuses_a_missing_log(db: Target) -> None:
    """A home's log is never recreated silently (its acknowledged entries would be lost)."""
    with pytest.raises(AuditError, match="no tables"):
        AuditLog.open(db, create=False)
    assert not isinstance(db, Path) or not db.exists()  # and it left no empty file behind
    with AuditLog.open(db) as log:
        log.append("check.prompt", {"prompt": "a cat"})
    with AuditLog.open(db, create=False) as log:
        assert len(log) == 1 and log.backend == ("sqlite" if isinstance(db, Path) else "postgresql")


def test_an_unknown_database_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="postgresql:// URL"):
        AuditLog.open("mysql://db/audit")
    with AuditLog.open(f"sqlite:///{tmp_path / 'by-url.db'}") as log:
        assert log.append("check.prompt", {"prompt": "a cat"}) == 1
    assert (tmp_path / "by-url.db").is_file()


def test_entries_of_several_kinds_come_merged_in_order(db: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    import stylegate.governance.audit.log as audit_mod

    monkeypatch.setattr(audit_mod, "_WINDOW", 7)  # many windows per kind
    kinds = ["check.prompt", "generate", "check.image", "registry.artist.added"]
    with AuditLog.open(db) as log:
        log.append_many([(kinds[i % 4], {"i": i}) for i in range(101)], batch=13)
        both = [e["seq"] for e in log.entries(kinds=["generate", "check.prompt", "generate"])]
        assert both == [s for s in range(1, 102) if (s - 1) % 4 in (0, 1)]
        window = [e["seq"] for e in log.entries(10, 60, kinds=["check.image", "registry.artist.added"])]
        assert window == [s for s in range(10, 61) if (s - 1) % 4 in (2, 3)]
        assert [e["seq"] for e in log.entries()] == list(range(1, 102))
        t = log.entry(50)["time"]
        assert all(e["time"] >= t for e in log.entries(kinds=["generate", "check.image"], since=t))
