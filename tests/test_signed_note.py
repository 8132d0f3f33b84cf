"""C2SP signed notes and checkpoints, tested against vectors nobody in this project wrote.

Sources of the quoted vectors (public data, quoted as test data):

* ``GO_NOTE_*``: the example in the package documentation of golang.org/x/mod/sumdb/note
  (note.go, "Here is a well-formed signed note"), with the example signer and verifier keys
  printed there. Ed25519 is deterministic, so our signer must reproduce that note byte for byte.
* ``SUMDB_KEY``: the Go checksum database's public verifier key, built into the go command
  (golang/go, src/cmd/go/internal/modfetch/key.go).
* ``SUMDB_CHECKPOINT``: a checkpoint served by https://sum.golang.org/latest, retrieved
  2024-09-23, as quoted in a public Go test (TestGoSumDBCheckpoint, in sigsum-go's checkpoint
  tests). Whatever the quoting repository, the signature verifies under the official key, so
  the data is sum.golang.org's.
* ``SUMDB_WITNESSED``: a sum.golang.org checkpoint (2023-01-09) carrying a second signature by
  a test witness (``test.example.com``), from google/trillian-examples,
  witness/golang/cmd/addrwitness/README.md.
* ``SPEC_CHECKPOINT``: the example checkpoint in c2sp.org/tlog-checkpoint. Its signature's key
  ID is sum.golang.org's but its name is not, so a verifier holding only the sumdb key must
  ignore it (the spec: name and ID must both match).
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from stylegate.governance.audit import AuditLog, default_audit_path
from stylegate.governance.audit import checkpoints as sn
from stylegate.governance.audit.checkpoints import checkpoint_message, note_origin, note_verifier
from stylegate.governance.audit.merkle import EMPTY_ROOT
from stylegate.governance.audit.signing import Signer, load_or_create_signer, public_key_raw

GO_NOTE_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_NOTE_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_NOTE_TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

SUMDB_KEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "30055305\n"
    "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n"
    "\n"
    "— sum.golang.org Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYle3EJlDCrQ+y3A8=\n"
)
SUMDB_WITNESSED = (
    "go.sum database tree\n"
    "15067302\n"
    "gJyioq6dwR9n+NjEWORfYmH+ubeYm3kH42BBQ0bTpYI=\n"
    "\n"
    "— sum.golang.org Az3grp1rvWOs5NKlr/xR4GLN/CDyzzakmt1o61uSxYKpK1SerqOP2ClbX/peKUZjYnyomH5Xz7GZG3TpB7OeKn4E2ww=\n"
    "— test.example.com qTGhC/xIPQ0AXKHK6Y+9ypRfuvMZWPjRXM8NiOg5M1WREn07VQXyuIXM3NRNav3ieVFLUqDRK77PWDmL6w8w84UqeAw=\n"
)
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


def _go_private_key() -> Ed25519PrivateKey:
    blob = base64.b64decode(GO_NOTE_SIGNER.split("+", 4)[4])
    assert blob[0] == sn.SIG_TYPE_ED25519
    return Ed25519PrivateKey.from_private_bytes(blob[1:])


# -- published vectors ------------------------------------------------------------------------


def test_go_note_example_verifies_and_is_reproduced_byte_for_byte() -> None:
    verifier = sn.Verifier.parse(GO_NOTE_VERIFIER)
    result = sn.verify_note(GO_NOTE, [verifier])
    assert result.ok and result.text == GO_NOTE_TEXT and result.signers == [GO_NOTE_VERIFIER]
    private = _go_private_key()
    assert sn.sign_note(GO_NOTE_TEXT, "PeterNeumann", private) == GO_NOTE
    # The verifier key we derive from the private key is the published one, key ID included.
    assert str(sn.Verifier.from_public_key("PeterNeumann", private.public_key())) == GO_NOTE_VERIFIER


def test_sumdb_key_round_trips_and_its_key_id_is_the_published_one() -> None:
    verifier = sn.Verifier.parse(SUMDB_KEY)
    assert str(verifier) == SUMDB_KEY
    assert sn.key_id(verifier.name, verifier.public_key) == int(SUMDB_KEY.split("+")[1], 16)


def test_real_sum_golang_org_checkpoint_verifies() -> None:
    res = sn.verify_checkpoint(SUMDB_CHECKPOINT, [sn.Verifier.parse(SUMDB_KEY)], origin="go.sum database tree")
    assert res.ok, res.detail
    assert res.checkpoint is not None
    assert res.checkpoint.size == 30055305
    assert base64.b64encode(res.checkpoint.root).decode() == "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM="
    assert res.checkpoint.text() == SUMDB_CHECKPOINT.split("\n\n")[0] + "\n"


def test_a_witness_cosignature_from_an_unknown_key_is_ignored() -> None:
    res = sn.verify_checkpoint(SUMDB_WITNESSED, [sn.Verifier.parse(SUMDB_KEY)])
    assert res.ok and res.checkpoint is not None and res.checkpoint.size == 15067302
    assert len(sn.parse_note(SUMDB_WITNESSED).signatures) == 2


def test_spec_example_shares_the_sumdb_key_id_but_not_its_name() -> None:
    note = sn.parse_note(SPEC_CHECKPOINT)
    assert note.signatures[0].key_id == sn.Verifier.parse(SUMDB_KEY).key_id
    assert sn.parse_checkpoint(note.text).size == 20852163
    res = sn.verify_checkpoint(SPEC_CHECKPOINT, [sn.Verifier.parse(SUMDB_KEY)])
    assert not res.ok and res.reason == "unknown_key"


# -- tampering, each with its reason ------------------------------------------------------------


def _swap_line(note: str, index: int, value: str) -> str:
    lines = note.split("\n")
    lines[index] = value
    return "\n".join(lines)


def _sig_blob(note: str) -> bytes:
    return base64.b64decode(note.rstrip("\n").split("\n")[-1].split(" ")[2])


def _with_sig_blob(note: str, blob: bytes) -> str:
    head, last = note.rstrip("\n").rsplit("\n", 1)
    dash, name, _ = last.split(" ")
    return f"{head}\n{dash} {name} {base64.b64encode(blob).decode()}\n"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda n: _swap_line(n, 1, "30055306"), "bad_signature"),  # size
        (lambda n: _swap_line(n, 2, base64.b64encode(b"\x01" * 32).decode()), "bad_signature"),  # root
        (lambda n: _with_sig_blob(n, _sig_blob(n)[:4] + bytes([_sig_blob(n)[4] ^ 1]) + _sig_blob(n)[5:]), "bad_signature"),
        (lambda n: _with_sig_blob(n, b"\x00\x00\x00\x01" + _sig_blob(n)[4:]), "unknown_key"),  # key ID
        (lambda n: n.replace("— sum.golang.org", "— sum.golang.com"), "unknown_key"),  # key name
        (lambda n: n.replace("\n\n", "\n"), "malformed"),
        (lambda n: n.replace("— ", "-- "), "malformed"),
        (lambda n: n.replace("\n\n", "\nextra\x07\n\n"), "malformed"),
        (lambda n: n[:-1], "malformed"),
        (lambda n: n.replace("=\n\n", "\n\n", 1), "bad_signature"),  # the signature is checked before the body
    ],
)
def test_tampered_sumdb_checkpoints_are_refused_with_the_reason(tamper, reason) -> None:
    res = sn.verify_checkpoint(tamper(SUMDB_CHECKPOINT), [sn.Verifier.parse(SUMDB_KEY)])
    assert not res.ok and res.reason == reason, res.detail


def test_expected_size_root_and_origin_are_checked() -> None:
    key = [sn.Verifier.parse(SUMDB_KEY)]
    assert sn.verify_checkpoint(SUMDB_CHECKPOINT, key, size=30055304).reason == "bad_size"
    assert sn.verify_checkpoint(SUMDB_CHECKPOINT, key, root=b"\x00" * 32).reason == "root_mismatch"
    assert sn.verify_checkpoint(SUMDB_CHECKPOINT, key, origin="example.com/log").reason == "origin_mismatch"


@pytest.mark.parametrize(
    "vkey",
    [
        SUMDB_KEY.replace("033de0ae", "033de0af"),  # key ID does not match the key
        SUMDB_KEY.replace("+Ac4", "+Ac5"),  # key bytes changed
        "sum.golang.org+033de0ae",
        "sum golang+033de0ae+" + SUMDB_KEY.split("+", 2)[2],
        SUMDB_KEY.replace("+Ac4z", "+Ak4z"),  # another signature type
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(sn.NoteError):
        sn.Verifier.parse(vkey)


def test_checkpoint_body_rules() -> None:
    root = base64.b64encode(b"\x02" * 32).decode()
    for text in (f"o\n01\n{root}\n", f"o\n-1\n{root}\n", f"\n1\n{root}\n", "o\n1\nAAAA\n", f"o\n1\n{root}\n\n", "o\n1\n"):
        with pytest.raises(sn.NoteError):
            sn.parse_checkpoint(text)
    assert sn.parse_checkpoint(f"o\n0\n{root}\next one\n").extensions == ("ext one",)
    key = Ed25519PrivateKey.generate()
    signed_bad_body = sn.sign_note(f"o\n01\n{root}\n", "o", key)
    res = sn.verify_checkpoint(signed_bad_body, [sn.Verifier.from_public_key("o", key.public_key())])
    assert not res.ok and res.reason == "malformed" and "leading zeroes" in res.detail


# -- stylegate's own checkpoints ----------------------------------------------------------------


def _fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append("check.prompt", {"prompt": f"a dog {i}", "decision": "allow"})


def test_stylegate_checkpoint_is_a_standard_note(home: Path) -> None:
    signer = load_or_create_signer(home)
    with AuditLog.open(default_audit_path(home)) as log:
        _fill(log, 5)
        cp = log.checkpoint(signer)
        head = log.head()
    verifier = note_verifier(signer.public_key)
    # Re-derive the verifier key string by hand from the spec's definition.
    name = note_origin(signer.public_key)
    import hashlib

    raw = public_key_raw(signer.public_key)
    hand_id = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4].hex()
    key_blob = base64.b64encode(b"\x01" + raw).decode()
    assert str(verifier) == f"{name}+{hand_id}+{key_blob}"
    lines = cp.note.split("\n")
    assert lines[:4] == [name, "5", base64.b64encode(bytes.fromhex(head.root)).decode(), ""]
    assert lines[4].startswith(f"— {name} ") and lines[5] == ""
    res = sn.verify_checkpoint(cp.note, [sn.Verifier.parse(str(verifier))], size=5, root=bytes.fromhex(head.root))
    assert res.ok


def test_verify_note_against_the_log(home: Path) -> None:
    signer = load_or_create_signer(home)
    with AuditLog.open(default_audit_path(home)) as log:
        _fill(log, 3)
        cp = log.checkpoint(signer)
        assert log.verify_note(cp.note, signer.public_key).ok
        other = Signer.generate()
        foreign = log.checkpoint(other).note
        assert log.verify_note(foreign, signer.public_key).reason == "unknown_key"
        assert log.verify_note(foreign, signer.public_key, [str(note_verifier(other.public_key))]).ok
        # A note signed by our key over a head this log never had: root mismatch; a longer log: bad size.
        name = note_origin(signer.public_key)
        fake_root = sn.sign_checkpoint(sn.CheckpointBody(name, 2, b"\x05" * 32), name, signer.private_key)
        assert log.verify_note(fake_root, signer.public_key).reason == "root_mismatch"
        too_big = sn.sign_checkpoint(sn.CheckpointBody(name, 9, b"\x05" * 32), name, signer.private_key)
        assert log.verify_note(too_big, signer.public_key).reason == "bad_size"
        empty = sn.sign_checkpoint(sn.CheckpointBody(name, 0, EMPTY_ROOT), name, signer.private_key)
        assert log.verify_note(empty, signer.public_key).ok


def test_legacy_checkpoints_still_verify(home: Path) -> None:
    """A checkpoint row in the old four-line format (no note) written straight into the table."""
    signer = load_or_create_signer(home)
    path = default_audit_path(home)
    with AuditLog.open(path) as log:
        _fill(log, 4)
        head = log.head()
    time = "2026-01-01T00:00:00.000000+00:00"
    sig = signer.sign(checkpoint_message(4, head.root, time)).hex()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO checkpoints (size, root_hash, time, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?, ?)",
            (4, head.root, time, signer.key_id, public_key_raw(signer.public_key).hex(), sig),
        )
    with AuditLog.open(path) as log:
        result = log.verify(signer.public_key)
        assert result.ok and result.checkpoints == 1
        (legacy,) = log.checkpoints()
        assert legacy.note == "" and legacy.check(Signer.generate().public_key).reason == "unknown_key"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE checkpoints SET time = '2026-01-02T00:00:00.000000+00:00'")
    with AuditLog.open(path) as log:
        result = log.verify(signer.public_key)
    assert not result.ok and any("bad_signature" in p for p in result.problems)


def test_a_log_from_before_notes_gains_the_column(home: Path) -> None:
    path = default_audit_path(home)
    with AuditLog.open(path) as log:
        _fill(log, 1)
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE checkpoints DROP COLUMN note")
    with AuditLog.open(path) as log:
        cp = log.checkpoint(load_or_create_signer(home))
        assert log.checkpoints()[-1].note == cp.note != ""


# -- the CLI --------------------------------------------------------------------------------------


def test_cli_checkpoint_prints_the_note_and_verify_checks_a_copy(home: Path, tmp_path: Path) -> None:
    from stylegate.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["--home", str(home), "init"]).exit_code == 0
    signer = load_or_create_signer(home)
    with AuditLog.open(default_audit_path(home)) as log:
        _fill(log, 3)
    copy = tmp_path / "cp.note"
    res = runner.invoke(app, ["--home", str(home), "audit", "checkpoint", "--out", str(copy)])
    assert res.exit_code == 0, res.output
    verifier = str(note_verifier(signer.public_key))
    assert verifier in res.stderr and res.stdout == copy.read_text()
    ok = runner.invoke(app, ["--home", str(home), "audit", "verify", "--note", str(copy), "--json"])
    assert ok.exit_code == 0, ok.output
    tampered = tmp_path / "bad.note"
    tampered.write_text(_swap_line(copy.read_text(), 1, "2"))
    bad = runner.invoke(app, ["--home", str(home), "audit", "verify", "--note", str(tampered)])
    assert bad.exit_code == 1 and "bad_signature" in bad.stderr
    missing = runner.invoke(app, ["--home", str(home), "audit", "verify", "--note", str(tmp_path / "nope")])
    assert missing.exit_code == 2
