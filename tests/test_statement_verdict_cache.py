"""The portal's statement verdicts are remembered per file hash and checkpoint: a page load
does not redo the proofs, and a tampered file is verified afresh and shown invalid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import stylegate
from stylegate.cli import app
from stylegate.governance.audit import DecisionRecord
from stylegate.governance.audit import log as audit_mod
from stylegate.governance.audit.signing import load_or_create_signer
from stylegate.operations import statements as ops
from stylegate.operations.verdict_cache import VERDICTS, VerdictCache

runner = CliRunner()


def _generation(artist: Any, share: float) -> DecisionRecord:
    attribution = [{"artist": {"id": artist.id, "name": artist.name}, "share": share, "consent": "royalty"}]
    return DecisionRecord.from_decision({"action": "attribute", "subject": "generation", "evidence": [],
                                         "attribution": attribution, "reasons": []},
                                        prompt="a boat", policy_hash="p1", model={"id": "m"}, images=["x.png"], seeds=[1])


@pytest.fixture()
def issued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A real home with two royalty artists' November generations and their statements issued."""
    root = tmp_path / "home"
    ws = stylegate.open_workspace(root, create=True, device="cpu")
    ada = ws.store.add_artist("Ada Royal", consent="royalty", royalty_rate=0.2)
    bo = ws.store.add_artist("Bo Royal", consent="royalty")
    with monkeypatch.context() as m:
        for day, who in ((2, ada), (3, bo), (9, ada)):
            m.setattr(audit_mod, "utc_now", lambda day=day: f"2026-11-{day:02d}T10:00:00.000000+00:00")
            ws.audit.append("generate", _generation(who, 1.0))
    ws.audit.close()
    result = runner.invoke(app, ["--home", str(root), "statements", "issue", "--period", "2026-11", "--json"])
    assert result.exit_code == 0, result.output
    VERDICTS.clear()
    return {"root": root, "ada": ada.id, "bo": bo.id}


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the real verifications the dashboard asks for."""
    calls: list[int] = []
    real = ops.verify_statement

    def counted(ws: Any, doc: Any, **kw: Any) -> Any:
        calls.append(int(doc["artist"]["id"]))
        return real(ws, doc, **kw)

    monkeypatch.setattr(ops, "verify_statement", counted)
    return calls


def test_a_page_load_reuses_the_verdict_and_a_tampered_file_is_reverified(
        issued: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch)
    ws = stylegate.open_workspace(issued["root"], device="cpu")
    first = ops.artist_statements(ws, issued["ada"])
    assert calls == [issued["ada"]] and first[0]["verdict"]["ok"] is True
    again = ops.artist_statements(ws, issued["ada"])
    assert calls == [issued["ada"]], "the second load re-verified an unchanged statement"
    assert again[0]["verdict"] == first[0]["verdict"]

    # tamper with the amount on disk: new bytes, new hash, verified again and shown invalid
    path = Path(first[0]["json_path"])
    doc = json.loads(path.read_text("utf-8"))
    doc["lines"][0]["amount"] = 10.0
    path.write_text(json.dumps(doc, indent=1), "utf-8")
    tampered = ops.artist_statements(ws, issued["ada"])
    assert calls == [issued["ada"], issued["ada"]]
    assert tampered[0]["verdict"]["ok"] is False and tampered[0]["verdict"]["reason"]
    # and it stays invalid on the next load, from the cache
    assert ops.artist_statements(ws, issued["ada"])[0]["verdict"]["ok"] is False
    assert len(calls) == 2


def test_a_new_checkpoint_is_checked_for_consistency_again(issued: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch)
    ws = stylegate.open_workspace(issued["root"], device="cpu")
    ops.artist_statements(ws, issued["bo"])
    ops.artist_statements(ws, issued["bo"])
    assert len(calls) == 1
    ws.audit.checkpoint(load_or_create_signer(ws.settings.home))  # the same tree head: the same note
    ops.artist_statements(ws, issued["bo"])
    assert len(calls) == 1
    ws.audit.append("check.prompt", _generation(ws.store.get_artist(issued["bo"]), 1.0))
    ws.audit.checkpoint(load_or_create_signer(ws.settings.home))  # the log's latest checkpoint moves on
    rows = ops.artist_statements(ws, issued["bo"])
    assert len(calls) == 2 and rows[0]["verdict"]["ok"] is True


def test_the_cache_is_bounded_least_recently_used_first_out() -> None:
    cache = VerdictCache(maxsize=2)
    computed: list[str] = []

    def compute(name: str) -> Any:
        return lambda: computed.append(name) or {"ok": True, "name": name}

    cache.get_or_compute(("a",), compute("a"))
    cache.get_or_compute(("b",), compute("b"))
    cache.get_or_compute(("a",), compute("a"))  # a is now the most recent
    cache.get_or_compute(("c",), compute("c"))  # evicts b
    cache.get_or_compute(("a",), compute("a"))
    cache.get_or_compute(("b",), compute("b"))
    assert computed == ["a", "b", "c", "b"]
    # a verdict handed out is a copy: editing it does not change what the next load sees
    got = cache.get_or_compute(("b",), compute("b"))
    got["ok"] = False
    assert cache.get_or_compute(("b",), compute("b"))["ok"] is True
