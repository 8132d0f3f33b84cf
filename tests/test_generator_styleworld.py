"""GatedGenerator end to end on the shipped StyleWorld pipeline: allow, attribute, steer,
block, and early abort that really interrupts a run headed for an opted-out style."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import numpy as np
import pytest
import torch

from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
from stylegate.cli.generate import _print_attempts
from stylegate.generator.early_abort import REJECTING, EarlyAbortConfig
from stylegate.generator.gated import GatedGenerator, GenerationResult
from stylegate.governance.decision import Action
from stylegate.governance.gate import PolicyGate
from stylegate.governance.policy import default_policy_text, parse_policy
from stylegate.styleworld import world

torch.set_num_threads(1)

STEPS = 25
REGISTERED, UNREGISTERED = demo_artists()
OPT_OUT = [a for a in REGISTERED if a.consent == "opt-out"]
ROYALTY = next(a for a in REGISTERED if a.consent == "royalty")
UNCLAIMED = UNREGISTERED[0]
PREVIEWS = EarlyAbortConfig().preview_steps(STEPS)  # where the default config previews a STEPS-step run
FIRST = PREVIEWS[0]


@pytest.fixture(scope="module")
def world_gate(tmp_path_factory: pytest.TempPathFactory) -> PolicyGate:
    base = tmp_path_factory.mktemp("genworld")
    ws, _ = new_styleworld_workspace(base, artists=REGISTERED)
    return ws.gate()


@pytest.fixture(scope="module")
def pipe() -> Any:
    from stylegate.styleworld.models import load_pipeline

    return load_pipeline("cpu")


def gate_with(gate: PolicyGate, **replace: str) -> PolicyGate:
    """The same registry view and embedder under a policy with some lines replaced."""
    text = default_policy_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return PolicyGate(parse_policy(text), gate.embedder, gate.view)


def assert_nothing_rejected_returned(gate: PolicyGate, result: GenerationResult) -> None:
    for im in result.images:
        if im.image is not None:
            assert im.action is not Action.BLOCK
            assert gate.check_image(im.image).action not in REJECTING
        else:
            assert im.action is Action.BLOCK
    json.dumps(result.to_dict())  # the record is JSON-clean
    json.dumps(result.decision_dict())


def test_allow_path_runs_every_step_with_previews(world_gate: PolicyGate, pipe: Any) -> None:
    gen = GatedGenerator(world_gate, pipe)
    result = gen.generate(f"a mountain in {world.describe(UNCLAIMED)}", seed=0, steps=STEPS)
    assert result.action is Action.ALLOW
    (im,) = result.images
    assert im.image is not None and im.attempts == 1
    (attempt,) = im.attempt_log
    assert attempt.stage == "output" and attempt.steps_run == attempt.steps_planned == STEPS
    assert [p.step for p in attempt.previews] == PREVIEWS
    assert all(p.action not in REJECTING for p in attempt.previews)
    assert result.steps_summary() == {"planned": STEPS, "run": STEPS, "saved": 0, "aborted_attempts": 0}
    assert result.degraded == []
    # the previews read the run and never change it: same pixels as a plain call, at the
    # pipeline's own default guidance, which the gate uses when given none
    declared = inspect.signature(pipe.__call__).parameters["guidance_scale"].default
    assert attempt.guidance_scale == gen.guidance_scale == declared
    plain = pipe(prompt=result.used_prompt, num_inference_steps=STEPS, generator=torch.Generator("cpu").manual_seed(0)).images[0]
    assert np.array_equal(np.asarray(plain), np.asarray(im.image))
    assert_nothing_rejected_returned(world_gate, result)


def test_attribute_path(world_gate: PolicyGate, pipe: Any) -> None:
    result = GatedGenerator(world_gate, pipe).generate(f"a tree by {ROYALTY.name}", seed=0, steps=STEPS)
    assert result.action is Action.ATTRIBUTE
    shares = result.attribution()
    assert ROYALTY.name in {s["artist"]["name"] for s in shares}
    assert abs(sum(s["share"] for s in shares) - 1.0) < 1e-6
    assert_nothing_rejected_returned(world_gate, result)


def test_named_opted_out_artist_is_blocked_before_any_model_loads(world_gate: PolicyGate) -> None:
    def never() -> Any:
        raise AssertionError("the pipeline must not load for a prompt the pre-check blocks")

    result = GatedGenerator(world_gate, load_pipeline=never).generate(f"a lighthouse by {OPT_OUT[0].name}", seed=0, steps=STEPS)
    assert result.action is Action.BLOCK and result.images == []
    assert result.decision_dict()["evidence"][0]["kind"] == "name"


def test_described_opted_out_style_is_steered_into_a_written_image(world_gate: PolicyGate, pipe: Any) -> None:
    """The default policy steers a described opted-out style: the rewrite drops the style and
    the image that is written is not in it."""
    artist = OPT_OUT[1]
    prompt = f"a boat in {world.describe(artist)}"
    result = GatedGenerator(world_gate, pipe).generate(prompt, seed=0, steps=STEPS)
    assert result.prompt_decision.action is Action.STEER
    assert "boat" in result.used_prompt and not any(d in result.used_prompt for d in artist.descriptors)
    (im,) = result.images
    if im.image is not None:
        assert result.action is Action.STEER
        assert artist.name not in {e.artist.name for e in im.decision.evidence if e.action.value == "block"}
    assert_nothing_rejected_returned(world_gate, result)


def with_retry_guidance_step(gate: PolicyGate, step: float, **replace: str) -> PolicyGate:
    """``gate_with(gate, **replace)`` with another ``steering.retry_guidance_step``, whatever
    the shipped one is."""
    text, n = re.subn(r"(?m)^retry_guidance_step = .*$", f"retry_guidance_step = {step}", default_policy_text())
    assert n == 1
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return PolicyGate(parse_policy(text), gate.embedder, gate.view)


@pytest.mark.parametrize("step", [0.0, 1.5])
def test_doomed_runs_stop_early_and_retry_with_a_stronger_push(world_gate: PolicyGate, pipe: Any, step: float,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A description the prompt check lets through lands in the opted-out style: the run is
    interrupted on a preview and retried with a new seed and a negative prompt naming the
    style, at the guidance the policy's ``retry_guidance_step`` schedules (0: the first
    attempt's on every retry), which the attempt log records per attempt."""
    gate = with_retry_guidance_step(world_gate, step, **{'description = "steer"': 'description = "allow"'})
    assert gate.policy.steering.retry_guidance_step == step
    artist = OPT_OUT[1]
    result = GatedGenerator(gate, pipe).generate(f"a boat in {world.describe(artist)}", seed=0, steps=STEPS)
    assert result.prompt_decision.action is Action.ALLOW
    (im,) = result.images
    aborted = [a for a in im.attempt_log if a.stage == "preview"]
    assert aborted, "a run headed for the opted-out style should have been stopped on a preview"
    first = aborted[0]
    assert first.aborted_at is not None and first.steps_run == first.aborted_at < first.steps_planned == STEPS
    assert first.previews[-1].rejects and first.previews[-1].evidence[0]["artist"]["name"] == artist.name
    assert im.attempts == len(im.attempt_log) > 1  # the aborted attempt counted as blocked: a retry followed
    assert artist.name in (im.attempt_log[1].negative_prompt or "")
    seeds = [a.seed for a in im.attempt_log]
    assert len(set(seeds)) == len(seeds)
    guidance = [a.guidance_scale for a in im.attempt_log]
    first = inspect.signature(pipe.__call__).parameters["guidance_scale"].default  # the pipeline's own default
    assert guidance == [first + step * (a.attempt - 1) for a in im.attempt_log]
    assert im.attempt_log[0].negative_prompt is None  # the push is added on the retry
    summary = result.steps_summary()
    assert summary["saved"] > 0 and summary["aborted_attempts"] == len(aborted)
    logged = result.to_dict()["images"][0]["attempt_log"]
    assert [a["stage"] for a in logged] == [a.stage for a in im.attempt_log] and "preview" in [a["stage"] for a in logged]
    assert [(a["guidance_scale"], a["negative_prompt"]) for a in logged] == [
        (a.guidance_scale, a.negative_prompt) for a in im.attempt_log]
    _print_attempts(result)  # what `stylegate generate` prints: one row per pipeline run
    printed = capsys.readouterr().out
    assert "attempts" in printed and all(str(a.seed) in printed for a in im.attempt_log)
    assert str(im.attempt_log[-1].guidance_scale) in printed
    assert_nothing_rejected_returned(gate, result)


def test_early_abort_interrupts_the_pipeline_and_blocks_when_no_retry_is_left(world_gate: PolicyGate, pipe: Any) -> None:
    """Descriptions of opted-out styles allowed by the prompt check (so no steering at all),
    no retries: the run is stopped on a preview, the pipeline really ran fewer steps, and the
    image is blocked with the preview's evidence."""
    gate = gate_with(world_gate, **{'description = "steer"': 'description = "allow"', "max_attempts = 2": "max_attempts = 0"})
    artist = OPT_OUT[0]
    result = GatedGenerator(gate, pipe).generate(f"a cat in {world.describe(artist)}", seed=0, steps=STEPS)
    assert result.prompt_decision.action is Action.ALLOW
    assert result.negative_prompt is None
    assert result.action is Action.BLOCK
    (im,) = result.images
    assert im.image is None and im.attempts == 1
    (attempt,) = im.attempt_log
    assert attempt.stage == "preview" and attempt.aborted_at == FIRST  # stopped on the first preview
    assert pipe.steps_run == attempt.steps_run == FIRST < STEPS
    decision = result.decision_dict()
    assert decision["action"] == "block"
    ev = [e for e in decision["evidence"] if e.get("stage") == "preview"]
    assert ev and ev[0]["artist"]["name"] == artist.name and ev[0]["action"] == "block"
    assert any(r.startswith("image 0") and f"early abort after {FIRST} of {STEPS} steps" in r for r in decision["reasons"])
    record = result.to_dict()
    assert record["steps"] == {"planned": STEPS, "run": FIRST, "saved": STEPS - FIRST, "aborted_attempts": 1}
    assert record["images"][0]["attempt_log"][0]["aborted_at"] == FIRST


def test_without_early_abort_the_same_run_is_blocked_by_the_post_check(world_gate: PolicyGate, pipe: Any) -> None:
    gate = gate_with(world_gate, **{'description = "steer"': 'description = "allow"', "max_attempts = 2": "max_attempts = 0"})
    result = GatedGenerator(gate, pipe, early_abort=None).generate(f"a cat in {world.describe(OPT_OUT[0])}", seed=0, steps=STEPS)
    (im,) = result.images
    assert result.action is Action.BLOCK and im.image is None
    (attempt,) = im.attempt_log
    assert attempt.stage == "output" and attempt.steps_run == STEPS and attempt.previews == []
    assert im.decision.subject == "image" and im.decision.evidence[0].artist.name == OPT_OUT[0].name


def test_preview_points_are_configurable() -> None:
    assert EarlyAbortConfig(at=(0.4, 0.6, 0.8)).preview_steps(25) == [10, 15, 20]
    assert 1 <= len(PREVIEWS) and all(1 <= s < STEPS for s in PREVIEWS)
    assert EarlyAbortConfig(at=(0.2, 0.5)).preview_steps(10) == [2, 5]
    assert EarlyAbortConfig(at=(0.99,)).preview_steps(4) == [3]  # never after the last step
    assert EarlyAbortConfig(enabled=False).preview_steps(25) == []
    with pytest.raises(ValueError):
        EarlyAbortConfig(at=(1.0,))
    with pytest.raises(ValueError):
        EarlyAbortConfig(confirm=0)


def test_confirm_needs_consecutive_rejecting_previews(world_gate: PolicyGate, pipe: Any) -> None:
    gate = gate_with(world_gate, **{'description = "steer"': 'description = "allow"', "max_attempts = 2": "max_attempts = 0"})
    gen = GatedGenerator(gate, pipe, early_abort=EarlyAbortConfig(at=(0.4, 0.6, 0.8), confirm=2))
    result = gen.generate(f"a cat in {world.describe(OPT_OUT[0])}", seed=0, steps=STEPS)
    (attempt,) = result.images[0].attempt_log
    assert attempt.stage == "preview" and attempt.aborted_at == 15
    assert [p.step for p in attempt.previews] == [10, 15] and all(p.rejects for p in attempt.previews)


def test_the_retry_guidance_step_is_the_policys_unless_the_caller_gives_one(world_gate: PolicyGate) -> None:
    """No pipeline runs: the schedule a retry would use, read from the policy or the caller."""
    gate = with_retry_guidance_step(world_gate, 2.5)
    assert GatedGenerator(gate, load_pipeline=lambda: None).retry_guidance_step == 2.5
    assert GatedGenerator(gate, load_pipeline=lambda: None, steer_guidance_step=0.5).retry_guidance_step == 0.5
