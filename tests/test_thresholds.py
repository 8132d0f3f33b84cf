"""Thresholds belong to an embedder: the policy names the embedder its semantic thresholds
were fitted for, and the gate refuses them on any other (or screens by name only)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stylegate.cli import app
from stylegate.errors import EXIT_BLOCKED, EXIT_ERROR, InputError, StylegateError, ThresholdsForeign
from stylegate.governance.matching.thresholds import check_binding
from stylegate.governance.policy import default_policy_text, load_policy, parse_policy
from stylegate.settings import Settings
from stylegate.styleworld import models, world
from stylegate.workspace import Workspace

runner = CliRunner()
ARTIST = next(a for a in world.ARTISTS if a.consent == "opt-out")


def sg(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args])


def test_bundled_policy_is_bound_to_the_styleworld_clip(tmp_path: Path) -> None:
    """The identity written in the default policy is the one Embedder computes for the shipped CLIP."""
    identity = Workspace(Settings(home=tmp_path / "h", device="cpu")).embedder.identity
    policy = load_policy()
    assert policy.calibration.embedder.matches(identity)
    manifest = json.loads(models.MANIFEST_PATH.read_text())
    assert policy.calibration.embedder.checkpoint_sha256 == manifest["files"][models.CLIP_CHECKPOINT_NAME]["sha256"]
    assert check_binding(policy.calibration, identity).semantic


def test_another_embedder_is_refused_as_an_environment_error() -> None:
    policy = load_policy()
    other = {"model": "ViT-L-14", "checkpoint_sha256": "ab" * 32, "dim": 768}
    identity = type("I", (), {"to_dict": staticmethod(lambda: other)})()
    with pytest.raises(ThresholdsForeign) as err:
        check_binding(policy.calibration, identity, "policy.toml")
    assert isinstance(err.value, StylegateError) and not isinstance(err.value, InputError)
    text = str(err.value)
    assert "ViT-L-14" in text and "styleworld-clip" in text and "stylegate calibrate" in text


def test_a_policy_section_is_validated() -> None:
    text = default_policy_text()
    with pytest.raises(InputError, match="calibration.semantic"):
        parse_policy(text.replace('semantic = "enforce"', 'semantic = "off"'))


@pytest.fixture()
def foreign_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home whose embedder is a randomly initialised StyleWorld-shaped CLIP: same model
    name and dim as the shipped one, other weights, so the default policy is foreign to it."""
    monkeypatch.setenv("STYLEGATE_CLIP_MODEL", models.CLIP_MODEL_NAME)
    monkeypatch.setenv("STYLEGATE_CLIP_MODEL_CONFIG", str(models.CLIP_CONFIG_PATH))
    home = tmp_path / "home"
    assert sg(home, "init").exit_code == 0
    args = ["artists", "add", ARTIST.name, "--consent", "opt-out"]
    for d in ARTIST.descriptors:
        args += ["--descriptor", d]
    assert sg(home, *args).exit_code == 0
    return home


def test_cli_refuses_semantic_checks_with_a_foreign_embedder(foreign_home: Path) -> None:
    result = sg(foreign_home, "check", "prompt", f"a boat, {world.describe(ARTIST)}", "--json")
    assert result.exit_code == EXIT_ERROR, result.output
    error = json.loads(result.stdout.strip().splitlines()[-1])["error"]
    assert "styleworld-clip (sha256 ddd47a853779" in error  # the embedder the thresholds were fitted for
    running = Workspace(Settings(home=foreign_home)).embedder.identity.checkpoint_sha256
    assert running[:12] in error and "stylegate calibrate" in error
    assert "stylegate calibrate" in result.stderr


def test_name_only_mode_warns_every_run_and_still_blocks_names(
        foreign_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    policy = foreign_home / "policy.toml"
    policy.write_text(policy.read_text().replace('semantic = "enforce"', 'semantic = "name-only"'))
    caplog.set_level(logging.WARNING, logger="stylegate.governance.matching.thresholds")
    named = sg(foreign_home, "check", "prompt", f"a lighthouse by {ARTIST.name}", "--json")
    assert named.exit_code == EXIT_BLOCKED, named.output
    decision = json.loads(named.stdout)
    assert [e["kind"] for e in decision["evidence"]] == ["name"]
    assert any("name-only screening" in r for r in decision["reasons"])
    described = sg(foreign_home, "check", "prompt", f"a boat, {world.describe(ARTIST)}", "--json")
    assert described.exit_code == 0, described.output
    assert json.loads(described.stdout)["evidence"] == []
    warnings = [r for r in caplog.records if "name-only screening" in r.getMessage()]
    assert len(warnings) == 2 and all(r.levelno == logging.WARNING for r in warnings)
