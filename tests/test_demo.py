"""`stylegate demo` end to end on the shipped StyleWorld models (real generation)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stylegate.cli import app


def test_demo_shows_every_kind_of_decision_and_writes_only_allowed_images(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["all_as_expected"] is True
    actions = {row["label"]: row["action"] for row in summary["prompts"]}
    assert actions["named opted-out artist"] == "block"
    assert actions["obfuscated opted-out name"] == "block"
    assert actions["described opted-out style"] in ("steer", "block")
    assert actions["royalty artist"] == "attribute" and actions["credit artist"] == "attribute"
    assert actions["a style nobody registered"] == "allow"
    for row in summary["prompts"]:
        if row["action"] == "block":
            assert row["files"] == []
        else:
            assert row["files"] and all(Path(f).is_file() for f in row["files"])
    written = sorted(p.name for p in (out / "images").iterdir())
    assert written == sorted(Path(f).name for row in summary["prompts"] for f in row["files"])
    attributed = next(r for r in summary["prompts"] if r["label"] == "royalty artist")
    shares = attributed["result"]["images"][0]["attribution"]
    assert abs(sum(a["share"] for a in shares) - 1.0) < 1e-6
    assert json.loads((out / "summary.json").read_text())["all_as_expected"] is True
