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
    assert actions["described opted-out style"] == "steer"
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

    # The steered case: a new prompt without the style, an image the post-check and an
    # independent (non-neural) classifier both clear of the opted-out artist.
    from PIL import Image

    from stylegate.styleworld.style_classifier import fit_default

    steered = next(r for r in summary["prompts"] if r["label"] == "described opted-out style")
    plan = steered["result"]["prompt_check"]["steer"]
    opted_out = {e["artist"]["name"] for e in steered["result"]["prompt_check"]["evidence"] if e["action"] == "steer"}
    assert plan["cleared"] and plan["prompt"] == steered["result"]["used_prompt"]
    assert "mosaic" not in plan["prompt"] and "boat" in plan["prompt"]
    post = steered["result"]["images"][0]["post_check"]
    assert not {e["artist"]["name"] for e in post["evidence"]} & opted_out
    predicted = fit_default(n_seeds=6, sizes=(32,)).predict([Image.open(f) for f in steered["files"]])
    assert not set(predicted) & opted_out, predicted
