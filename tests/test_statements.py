"""Royalty statements: issued from a real home's audit log, verified by the standalone verifier in a
subprocess, and every tampering case caught with its own reason."""

from __future__ import annotations

import ast
import base64
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import stylegate
from stylegate.cli import app
from stylegate.governance.audit import AuditLog, DecisionRecord
from stylegate.governance.audit import log as audit_mod
from stylegate.governance.audit import statement_verify as sv
from stylegate.governance.audit.checkpoints import CheckpointBody, note_origin, sign_checkpoint
from stylegate.governance.audit.signing import Signer, key_paths, public_key_pem
from stylegate.reports.statement_period import parse_period

VERIFIER = Path(sv.__file__)
runner = CliRunner()


def _body(action: str, attribution: list[dict[str, Any]], evidence: list[dict[str, Any]] = ()) -> DecisionRecord:  # type: ignore[assignment]
    return DecisionRecord.from_decision({"action": action, "subject": "prompt", "evidence": list(evidence),
                                         "attribution": attribution, "reasons": []},
                                        prompt="a painting", policy_hash="p1", model={"id": "m"}, images=["x.png"], seeds=[1])


def _attr(artist: Any, share: float) -> dict[str, Any]:
    return {"artist": {"id": artist.id, "name": artist.name}, "share": share, "consent": artist.consent}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A real home: artists in the registry, generations in the audit log in November 2026."""
    return statements_home(tmp_path, monkeypatch)


def statements_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The ``home`` fixture's home, on the database the environment names (SQLite by default)."""
    root = tmp_path / "home"
    ws = stylegate.open_workspace(root, create=True, device="cpu")
    ada = ws.store.add_artist("Ada Royal", consent="royalty", royalty_rate=0.2)
    bo = ws.store.add_artist("Bo Default", consent="royalty")
    cy = ws.store.add_artist("Cy Credit", consent="credit")
    dee = ws.store.add_artist("Dee Optout", consent="opt-out")
    log = ws.audit
    with monkeypatch.context() as m:
        def at(when: str, kind: str, body: Any) -> int:
            m.setattr(audit_mod, "utc_now", lambda: when)
            return log.append(kind, body)

        seqs = {
            "ada_bo": at("2026-11-02T10:00:00.000000+00:00", "generate", _body("attribute", [_attr(ada, 0.6), _attr(bo, 0.4)],
                         [{"kind": "style", "artist": {"id": ada.id, "name": ada.name}, "consent": "royalty", "score": 0.71,
                           "threshold": 0.6, "rule": "royalty.style", "action": "attribute"}])),
            "ada": at("2026-11-10T09:00:00.000000+00:00", "generate", _body("attribute", [_attr(ada, 1.0)])),
            "check": at("2026-11-11T09:00:00.000000+00:00", "check.prompt", _body("attribute", [_attr(ada, 1.0)])),
            "bo_cy": at("2026-11-20T08:00:00.000000+00:00", "generate", _body("steer", [_attr(bo, 0.5), _attr(cy, 0.5)])),
            "blocked": at("2026-11-21T08:00:00.000000+00:00", "generate", _body("block", [])),
            "december": at("2026-12-01T08:00:00.000000+00:00", "generate", _body("attribute", [_attr(ada, 1.0)])),
        }
    ws.audit.close()
    return {"root": root, "seqs": seqs, "ids": {"ada": ada.id, "bo": bo.id, "cy": cy.id, "dee": dee.id},
            "key": key_paths(root)[1]}


def _cli(root: Path, *args: str) -> Any:
    return runner.invoke(app, ["--home", str(root), *args])


def _issue(root: Path, *args: str) -> dict[str, Any]:
    result = _cli(root, "statements", "issue", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _doc(issued: dict[str, Any], artist_id: int) -> dict[str, Any]:
    path = next(s["json"] for s in issued["statements"] if s["artist"]["id"] == artist_id)
    return json.loads(Path(path).read_text("utf-8"))


def _resign(doc: dict[str, Any], root: Path) -> dict[str, Any]:
    """What a dishonest operator holding the workspace key would do after editing a statement."""
    signer = Signer.load(key_paths(root)[0])
    doc["statement_id"] = sv.statement_id(doc)
    doc["signature"] = base64.b64encode(signer.sign(sv.signed_bytes(doc))).decode("ascii")
    return doc


def _standalone(tmp: Path, doc_or_path: Any, *args: str) -> dict[str, Any]:
    """Run a copy of the verifier file, alone in a folder, as an artist would."""
    tool = tmp / "verifier" / "verify_statement.py"
    tool.parent.mkdir(exist_ok=True)
    shutil.copy(VERIFIER, tool)
    path = doc_or_path
    if not isinstance(doc_or_path, Path):
        path = tmp / "verifier" / "statement.json"
        path.write_text(json.dumps(doc_or_path), "utf-8")
    proc = subprocess.run([sys.executable, "-I", str(tool), str(path), *args, "--json"], capture_output=True, text=True,
                          cwd=tool.parent, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    verdict = json.loads(proc.stdout)
    assert (proc.returncode == 0) == verdict["ok"]
    return verdict


def test_the_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(VERIFIER.read_text("utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    assert names - set(sys.stdlib_module_names) == {"cryptography"}
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))


def test_issue_writes_one_signed_statement_per_paid_artist_and_they_verify_standalone(home: dict[str, Any], tmp_path: Path) -> None:
    root, seqs, ids = home["root"], home["seqs"], home["ids"]
    issued = _issue(root, "--period", "2026-11")
    by_artist = {s["artist"]["id"]: s for s in issued["statements"]}
    assert set(by_artist) == {ids["ada"], ids["bo"], ids["cy"]}  # opted-out Dee gets none
    ada = _doc(issued, ids["ada"])
    # the check.prompt entry, the blocked generation and December's are not lines
    assert [line["seq"] for line in ada["lines"]] == [seqs["ada_bo"], seqs["ada"]]
    price = ada["price_per_generation"]
    assert [line["amount"] for line in ada["lines"]] == [price * 0.6 * 0.2, price * 1.0 * 0.2]
    assert ada["lines"][0]["evidence"] == [{"kind": "style", "score": 0.71, "threshold": 0.6, "rule": "royalty.style"}]
    assert ada["commitment"]["count"] == 2 and ada["totals"]["amount"] == pytest.approx(price * 1.6 * 0.2)
    cy = _doc(issued, ids["cy"])
    assert [line["amount"] for line in cy["lines"]] == [0.0]  # credit: listed, owed nothing
    # the checkpoint is fresh: it covers the commitment entry, signed with the workspace key
    assert ada["checkpoint"]["size"] == issued["commitment_seq"]
    for artist_id in by_artist:
        path = Path(by_artist[artist_id]["json"])
        assert path.parent == root / "statements" / "2026-11" and path.with_suffix(".html").is_file()
        verdict = _standalone(tmp_path, path, "--key", str(home["key"]))
        assert verdict["ok"] and verdict["key_pinned"], verdict
    cli = _cli(root, "statements", "verify", by_artist[ids["bo"]]["json"], "--json")
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["workspace_checked"] is True
    # an artist's machine, no home: the command checks what needs no workspace, with the key given
    elsewhere = _cli(tmp_path / "no-home", "statements", "verify", by_artist[ids["bo"]]["json"], "--public-key",
                     str(home["key"]), "--json")
    assert elsewhere.exit_code == 0, elsewhere.output
    assert json.loads(elsewhere.stdout)["workspace_checked"] is False
    assert _cli(tmp_path / "no-home", "statements", "verify", by_artist[ids["bo"]]["json"]).exit_code == 1


def test_a_period_is_issued_once_and_a_correction_references_the_old_statement(home: dict[str, Any], tmp_path: Path) -> None:
    root, seqs, ids = home["root"], home["seqs"], home["ids"]
    issued = _issue(root, "--period", "2026-11")
    again = _cli(root, "statements", "issue", "--period", "2026-11")
    assert again.exit_code == 2 and "immutable" in again.output
    old = _doc(issued, ids["bo"])
    before = Path(issued["statements"][0]["json"]).read_bytes()
    # Bo's steered generation turns out to have written no image: a correction entry voids it
    ws = stylegate.open_workspace(root)
    ws.audit.append("generate.correction", {"corrects": seqs["bo_cy"], "unwritten": ["x.png"], "written": []})
    ws.audit.close()
    fixed = _issue(root, "--correct", old["statement_id"])
    assert fixed["corrects"] == old["statement_id"] and len(fixed["statements"]) == 1
    new = json.loads(Path(fixed["statements"][0]["json"]).read_text())
    assert new["corrects"] == old["statement_id"] and new["artist"]["id"] == ids["bo"]
    assert [line["seq"] for line in new["lines"]] == [seqs["ada_bo"]] and new["period"]["label"] == "2026-11"
    assert _standalone(tmp_path, Path(fixed["statements"][0]["json"]), "--key", str(home["key"]))["ok"]
    assert Path(issued["statements"][0]["json"]).read_bytes() == before  # the original is untouched
    twice = _cli(root, "statements", "issue", "--correct", old["statement_id"])
    assert twice.exit_code == 2 and "already corrected" in twice.output
    again_fixed = _issue(root, "--correct", new["statement_id"])  # a correction of the correction is fine
    assert json.loads(Path(again_fixed["statements"][0]["json"]).read_text())["corrects"] == new["statement_id"]
    unknown = _cli(root, "statements", "issue", "--correct", "st-00000000000000000000")
    assert unknown.exit_code == 2


def test_an_issue_killed_midway_is_finished_from_the_same_commitment(
        home: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stylegate.registry import _fs

    real, calls = _fs.atomic_write_bytes, []

    def dies_after_one_statement(path: Any, data: Any, **kw: Any) -> None:
        calls.append(path)
        if len(calls) > 2:  # the first statement's JSON and page are written, then the process dies
            raise OSError("disk gone")
        real(path, data, **kw)

    monkeypatch.setattr(_fs, "atomic_write_bytes", dies_after_one_statement)
    assert _cli(home["root"], "statements", "issue", "--period", "2026-11").exit_code == 1
    monkeypatch.setattr(_fs, "atomic_write_bytes", real)
    folder = home["root"] / "statements" / "2026-11"
    assert len(list(folder.glob("*.json"))) == 1
    finished = _issue(home["root"], "--period", "2026-11")
    assert len(finished["statements"]) == 2 and len(list(folder.glob("*.json"))) == 3
    commitments = {json.loads(p.read_text())["commitment"]["seq"] for p in folder.glob("*.json")}
    assert len(commitments) == 1  # one count commitment for the period, never a second
    for path in folder.glob("*.json"):
        assert _standalone(tmp_path, path, "--key", str(home["key"]))["ok"]
    assert _cli(home["root"], "statements", "issue", "--period", "2026-11").exit_code == 2


def test_each_tampering_is_caught_with_its_reason(home: dict[str, Any], tmp_path: Path) -> None:
    root = home["root"]
    issued = _issue(root, "--period", "2026-11")
    good = _doc(issued, home["ids"]["ada"])
    key = home["key"].read_bytes()
    assert sv.verify_statement(good, key).ok

    def reason(doc: dict[str, Any], pem: bytes = key, **kw: Any) -> list[str]:
        verdict = sv.verify_statement(doc, pem, **kw)
        assert not verdict.ok
        return verdict.reasons()

    changed = copy.deepcopy(good)
    changed["lines"][0]["amount"] *= 10
    unsigned = sv.verify_statement(changed, key)  # edited by anyone without the key: the signature first
    assert unsigned.reason == "bad_signature" and unsigned.reasons() == ["bad_amount", "bad_signature", "bad_total"]
    assert reason(_resign(changed, root)) == ["bad_amount", "bad_total"]  # re-signed by the operator: the sums

    dropped = copy.deepcopy(good)
    dropped["lines"].pop()
    dropped["totals"] = {k: (len(dropped["lines"]) if k == "lines" else v) for k, v in good["totals"].items()}
    dropped["totals"].update(share_sum=0.6, amount=dropped["lines"][0]["amount"], amount_payable=dropped["lines"][0]["amount"])
    assert reason(_resign(dropped, root)) == ["count_mismatch"]

    relabelled = copy.deepcopy(good)
    relabelled["corrects"] = "st-11111111111111111111"  # posing as a correction the log never recorded
    assert reason(_resign(relabelled, root)) == ["bad_commitment"]

    lied = copy.deepcopy(dropped)
    lied["commitment"]["count"] = 1  # the count signed in the log cannot be changed in the statement
    assert reason(_resign(lied, root)) == ["bad_commitment", "count_mismatch"]  # and the line is still missing

    swapped = copy.deepcopy(good)
    swapped["lines"][0]["audit_path"], swapped["lines"][1]["audit_path"] = good["lines"][1]["audit_path"], good["lines"][0]["audit_path"]
    assert reason(_resign(swapped, root)) == ["bad_inclusion"]

    moved = copy.deepcopy(good)
    moved["lines"][0]["share"] = 0.9  # a share the log never recorded, amount recomputed to match
    moved["lines"][0]["amount"] = good["price_per_generation"] * 0.9 * 0.2
    moved["totals"].update(share_sum=1.9, amount=moved["lines"][0]["amount"] + good["lines"][1]["amount"],
                           amount_payable=moved["lines"][0]["amount"] + good["lines"][1]["amount"])
    assert reason(_resign(moved, root)) == ["leaf_mismatch"]

    forged = copy.deepcopy(good)
    lines = forged["checkpoint"]["note"].split("\n")
    lines[1] = str(int(lines[1]) + 1)  # altered tree size
    forged["checkpoint"]["note"] = "\n".join(lines)
    assert reason(_resign(forged, root)) == ["bad_checkpoint"]

    stranger = Signer.generate()  # a checkpoint signed by someone else
    other = copy.deepcopy(good)
    body = CheckpointBody(note_origin(stranger.public_key), good["checkpoint"]["size"], bytes.fromhex(good["checkpoint"]["root"]))
    other["checkpoint"]["note"] = sign_checkpoint(body, note_origin(stranger.public_key), stranger.private_key)
    assert reason(_resign(other, root)) == ["bad_checkpoint"]

    assert reason(good, public_key_pem(stranger.public_key)) == ["wrong_key"]
    # the subprocess verifier names the same reasons
    assert _standalone(tmp_path, _resign(copy.deepcopy(changed), root), "--key", str(home["key"]))["reason"] == "bad_amount"
    (tmp_path / "stranger.pem").write_bytes(public_key_pem(stranger.public_key))
    assert _standalone(tmp_path, good, "--key", str(tmp_path / "stranger.pem"))["reason"] == "wrong_key"


def test_a_rewritten_log_is_caught_by_a_later_checkpoint(home: dict[str, Any], tmp_path: Path) -> None:
    root = home["root"]
    snapshot = tmp_path / "fork.db"
    shutil.copy(root / "audit.db", snapshot)  # the log as it was before the statements
    issued = _issue(root, "--period", "2026-11")
    path = next(s["json"] for s in issued["statements"] if s["artist"]["id"] == home["ids"]["ada"])
    # the operator rewrites history: same size, another entry where the commitment was, same key
    fork = AuditLog.open(snapshot)
    fork.append("generate", _body("allow", []))
    note = fork.checkpoint(Signer.load(key_paths(root)[0])).note
    fork.close()
    (tmp_path / "later.note").write_text(note, "utf-8")
    cli = _cli(root, "statements", "verify", path, "--checkpoint", str(tmp_path / "later.note"), "--json")
    assert cli.exit_code == 1, cli.output
    assert json.loads(cli.stdout)["reason"] == "inconsistent_checkpoint"
    # an honest later checkpoint, with the consistency proof the workspace hands out
    ws = stylegate.open_workspace(root)
    ws.audit.append("generate", _body("allow", []))
    later = ws.audit.checkpoint(Signer.load(key_paths(root)[0]))
    proof = ws.audit.prove_consistency(issued["checkpoint_size"], later.size)
    ws.audit.close()
    (tmp_path / "honest.note").write_text(later.note, "utf-8")
    (tmp_path / "proof.json").write_text(json.dumps(proof), "utf-8")
    ok = _standalone(tmp_path, Path(path), "--key", str(home["key"]), "--checkpoint", str(tmp_path / "honest.note"),
                     "--consistency", str(tmp_path / "proof.json"))
    assert ok["ok"], ok
    bad = _standalone(tmp_path, Path(path), "--key", str(home["key"]), "--checkpoint", str(tmp_path / "later.note"),
                      "--consistency", str(tmp_path / "proof.json"))
    assert bad["reason"] == "inconsistent_checkpoint"
    assert _cli(root, "statements", "verify", path).exit_code == 0  # against the log's latest checkpoint
    for note, code in (("honest.note", 0), ("later.note", 1)):  # the proof handed over, no home needed
        given = _cli(tmp_path / "no-home", "statements", "verify", path, "--public-key", str(home["key"]),
                     "--checkpoint", str(tmp_path / note), "--consistency", str(tmp_path / "proof.json"))
        assert given.exit_code == code, given.output


def test_an_operator_who_commits_to_a_short_count_is_caught_with_the_workspace(
        home: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropping a line and committing to the smaller count is consistent on paper; the log still
    holds the generation, and `statements verify` recounts it."""
    from stylegate.operations import statements as ops

    honest = ops._lines

    def short(ws: Any, period: Any, cutoff: str) -> Any:
        groups = honest(ws, period, cutoff)
        groups[home["ids"]["ada"]].lines.pop()
        return groups

    monkeypatch.setattr(ops, "_lines", short)
    issued = _issue(home["root"], "--period", "2026-11")
    monkeypatch.setattr(ops, "_lines", honest)
    path = next(s["json"] for s in issued["statements"] if s["artist"]["id"] == home["ids"]["ada"])
    assert _standalone(tmp_path, Path(path), "--key", str(home["key"]))["ok"]
    cli = _cli(home["root"], "statements", "verify", path, "--json")
    assert cli.exit_code == 1
    verdict = json.loads(cli.stdout)
    assert verdict["reason"] == "omitted" and str(home["seqs"]["ada"]) in verdict["detail"]


@pytest.mark.parametrize(("args", "label", "since", "until"), [
    (("2026-11",), "2026-11", "2026-11-01", "2026-12-01"),
    (("2026-12",), "2026-12", "2026-12-01", "2027-01-01"),
    (("2026-W48",), "2026-W48", "2026-11-23", "2026-11-30"),
    ((None, "2026-11-05", "2026-11-07"), "2026-11-05_2026-11-07", "2026-11-05", "2026-11-07"),
])
def test_periods(args: tuple[Any, ...], label: str, since: str, until: str) -> None:
    p = parse_period(*args)
    assert (p.label, p.since[:10], p.until[:10]) == (label, since, until)


@pytest.mark.parametrize("args", [("--period", "2026-13"), ("--period", "2026-W54"), ("--period", "nov"),
                                  ("--since", "2026-11-07", "--until", "2026-11-05"), ("--since", "2026-11-01")])
def test_bad_periods_are_usage_errors(home: dict[str, Any], args: tuple[str, ...]) -> None:
    result = _cli(home["root"], "statements", "issue", *args)
    assert result.exit_code == 2, result.output


def test_verify_refuses_a_file_that_is_not_a_statement(home: dict[str, Any], tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    assert _cli(home["root"], "statements", "verify", str(junk)).exit_code == 2
    junk.write_text(json.dumps({"format": "something else"}))
    result = _cli(home["root"], "statements", "verify", str(junk), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["reason"] == "malformed"


@pytest.mark.slow
def test_statements_from_real_styleworld_generations_verify_standalone(tmp_path: Path) -> None:
    """The demo generates through the gate on the shipped StyleWorld models; its royalty and
    credit artists' statements list exactly their attributed generations and verify."""
    from datetime import datetime, timedelta, timezone

    from stylegate.demo import run_demo

    summary = run_demo(tmp_path / "demo", log=lambda _text: None)
    root = tmp_path / "demo" / "home"
    attributed: dict[int, set[int]] = {}
    for row in summary["prompts"]:
        if row["action"] == "block" or not row["files"]:
            continue
        seq = row["result"]["audit_seq"]
        for item in row["result"]["images"][0]["attribution"]:
            if item.get("consent") in ("royalty", "credit"):
                attributed.setdefault(int(item["artist"]["id"]), set()).add(seq)
    assert attributed, "the demo attributes its royalty and credit prompts"
    today = datetime.now(timezone.utc).date()
    issued = _issue(root, "--since", str(today), "--until", str(today + timedelta(days=1)))
    for s in issued["statements"]:
        doc = json.loads(Path(s["json"]).read_text("utf-8"))
        assert {line["seq"] for line in doc["lines"]} == attributed.get(s["artist"]["id"], set())
        verdict = _standalone(tmp_path, Path(s["json"]), "--key", str(key_paths(root)[1]))
        assert verdict["ok"], verdict
    assert {s["artist"]["id"] for s in issued["statements"] if s["lines"]} == set(attributed)


def test_bench_statements_issues_and_verifies_a_synthetic_log() -> None:
    from typer.testing import CliRunner

    from stylegate.cli import app

    result = CliRunner().invoke(app, ["bench", "statements", "--entries", "40", "--artists", "2", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["statements"] == 2 and figures["standalone_ok"] and figures["workspace_ok"]
    assert figures["lines"] >= 40 and figures["log_entries"] > 40
