"""Any diffusers text-to-image pipeline behind the gate.

A tiny randomly initialised StableDiffusionPipeline is built from configs (no network),
saved to a temp folder and loaded back through ``load_text_to_image``; its images are noise,
which is fine: the gate must run its checks around it, form previews from the scheduler and
VAE, and interrupt it. A bare wrapper without ``negative_prompt`` or ``callback_on_step_end``
shows the degraded path: it warns and still works.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
from stylegate.generator.early_abort import (
    PREVIEW_FROM_PIPELINE,
    PREVIEW_FROM_SCHEDULER,
    EarlyAbortConfig,
    SchedulerTap,
    predict_x0,
)
from stylegate.generator.gated import GatedGenerator, PipelineCaps, first_image
from stylegate.generator.loading import load_text_to_image
from stylegate.governance.decision import Action
from stylegate.governance.gate import PolicyGate
from stylegate.governance.policy import default_policy_text, parse_policy
from stylegate.styleworld import world

torch.set_num_threads(1)

STEPS = 10
SD_PREVIEWS = EarlyAbortConfig().preview_steps(STEPS + 1)  # PNDM runs steps + 1 iterations; the default points
SD_FIRST = SD_PREVIEWS[0]
REGISTERED, UNREGISTERED = demo_artists()
OPT_OUT = next(a for a in REGISTERED if a.consent == "opt-out")


def build_tiny_sd(folder: Path, scheduler: str = "pndm") -> Path:
    """A tiny StableDiffusionPipeline from configs, saved with save_pretrained; returns its folder."""
    from diffusers import AutoencoderKL, DDIMScheduler, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=16,
    )
    vae = AutoencoderKL(
        block_out_channels=(16, 32), in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=16, sample_size=16,
    )
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789,.'-":
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    tok_dir = folder / "tokenizer-src"
    tok_dir.mkdir(parents=True, exist_ok=True)
    (tok_dir / "vocab.json").write_text(json.dumps(vocab), "utf-8")
    (tok_dir / "merges.txt").write_text("#version: 0.2\n", "utf-8")
    tokenizer = CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), model_max_length=32)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=32, bos_token_id=0, eos_token_id=1, pad_token_id=1, projection_dim=32,
    ))
    sched = PNDMScheduler(skip_prk_steps=True, steps_offset=1) if scheduler == "pndm" else DDIMScheduler(steps_offset=1)
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=sched,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    out = folder / "pipeline"
    pipe.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_sd_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> PolicyGate:
    base = tmp_path_factory.mktemp("gen-pipelines")
    ws, _ = new_styleworld_workspace(base, artists=REGISTERED, per_artist=4)
    return ws.gate()


@pytest.fixture()
def tiny_sd(tiny_sd_folder: Path) -> Any:
    return load_text_to_image(str(tiny_sd_folder))


def gate_with(gate: PolicyGate, old: str, new: str) -> PolicyGate:
    text = default_policy_text()
    assert old in text
    return PolicyGate(parse_policy(text.replace(old, new)), gate.embedder, gate.view)


# ------------------------------------------------------------------ tiny SD
def test_tiny_sd_allow_path_runs_the_gate_around_it(gate: PolicyGate, tiny_sd: Any) -> None:
    from diffusers import StableDiffusionPipeline

    assert isinstance(tiny_sd, StableDiffusionPipeline)
    # Given no guidance, the gate uses the pipeline's own default (Stable Diffusion's 7.5).
    declared = inspect.signature(tiny_sd.__call__).parameters["guidance_scale"].default
    assert GatedGenerator(gate, tiny_sd).guidance_scale == declared
    gen = GatedGenerator(gate, tiny_sd, guidance_scale=3.0)
    assert gen.caps.preview_source == PREVIEW_FROM_SCHEDULER and gen.caps.degraded == ()
    result = gen.generate("a cat on paper", seed=0, steps=STEPS)
    assert result.prompt_decision.action is Action.ALLOW
    assert result.action in (Action.ALLOW, Action.ATTRIBUTE)
    (im,) = result.images
    assert isinstance(im.image, Image.Image) and im.image.size == (16, 16)
    (attempt,) = im.attempt_log
    # the post-check ran on the output: an image decision by the gate's embedder
    assert attempt.stage == "output" and im.decision.subject == "image" and im.decision.embedder["model"] == "styleworld-clip"
    # previews were formed from the scheduler and the VAE, checked, and did not stop the run
    assert attempt.preview_error is None
    assert [p.step for p in attempt.previews] == SD_PREVIEWS
    assert attempt.steps_run == attempt.steps_planned == STEPS + 1
    assert "step" not in vars(tiny_sd.scheduler)  # the scheduler tap was removed
    json.dumps(result.to_dict())


def test_tiny_sd_name_blocked_prompt_produces_nothing(gate: PolicyGate, tiny_sd_folder: Path) -> None:
    loads = []

    def load() -> Any:
        loads.append(1)
        return load_text_to_image(str(tiny_sd_folder))

    result = GatedGenerator(gate, load_pipeline=load).generate(f"a lighthouse by {OPT_OUT.name}", seed=0, steps=STEPS)
    assert result.action is Action.BLOCK and result.images == [] and loads == []
    assert result.decision_dict()["evidence"][0]["artist"]["name"] == OPT_OUT.name


def test_tiny_sd_is_interrupted_on_a_rejecting_preview(gate: PolicyGate, tiny_sd: Any) -> None:
    """Under a policy where any picture matches every registered style, the first preview
    rejects; the SD pipeline stops denoising and nothing is returned."""
    strict = gate_with(gate, 'style = 0.72\nstyle_score = "normalised"', 'style = -0.90\nstyle_score = "cosine"')
    result = GatedGenerator(strict, tiny_sd).generate("a cat on paper", seed=0, steps=STEPS)
    assert result.prompt_decision.action is Action.ALLOW
    assert result.action is Action.BLOCK
    (im,) = result.images
    assert im.image is None and im.attempts == 1 + strict.policy.steering.max_attempts
    for attempt in im.attempt_log:
        assert attempt.stage == "preview" and attempt.aborted_at == SD_FIRST
        assert attempt.steps_run == SD_FIRST < attempt.steps_planned == STEPS + 1
    assert result.steps_summary()["saved"] == 3 * (STEPS + 1 - SD_FIRST)
    # without early abort the post-check blocks after every step has run
    off = GatedGenerator(strict, tiny_sd, early_abort=None).generate("a cat on paper", seed=0, steps=STEPS)
    assert off.action is Action.BLOCK and all(a.stage == "output" and a.steps_run == STEPS for a in off.images[0].attempt_log)


def test_tiny_sd_height_width_and_other_schedulers(gate: PolicyGate, tiny_sd: Any) -> None:
    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    lenient = gate_with(gate, 'style = 0.72\nstyle_score = "normalised"', 'style = 0.99\nstyle_score = "cosine"')  # noise never matches: the image is kept
    for scheduler in (DDIMScheduler, EulerDiscreteScheduler):
        tiny_sd.scheduler = scheduler.from_config(tiny_sd.scheduler.config)
        result = GatedGenerator(lenient, tiny_sd, height=32, width=32).generate("a tree", seed=1, steps=6)
        (im,) = result.images
        assert im.image is not None and im.image.size == (32, 32)
        (attempt,) = im.attempt_log
        assert attempt.preview_error is None and len(attempt.previews) == len(EarlyAbortConfig().preview_steps(attempt.steps_planned)) > 0, scheduler.__name__


# ---------------------------------------------------------- degraded paths
class BarePipeline:
    """A text-to-image callable with no negative prompt, no guidance and no callbacks, returning arrays."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[dict[str, Any]] = []

    def __call__(self, prompt: str, num_inference_steps: int = 25, generator: Any = None) -> Any:
        self.calls.append({"prompt": prompt, "steps": num_inference_steps})
        return self.inner(prompt=prompt, num_inference_steps=num_inference_steps, generator=generator, output_type="np").images


@pytest.fixture(scope="module")
def styleworld_pipe() -> Any:
    from stylegate.styleworld.models import load_pipeline

    return load_pipeline("cpu")


def test_a_pipeline_without_negative_prompt_or_callbacks_warns_and_still_works(
    gate: PolicyGate, styleworld_pipe: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bare = BarePipeline(styleworld_pipe)
    gen = GatedGenerator(gate, bare)
    with caplog.at_level(logging.WARNING, logger="stylegate.generator.gated"):
        allowed = gen.generate(f"a mountain in {world.describe(UNREGISTERED[0])}", seed=0, steps=12)
    warnings = " | ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "no negative_prompt" in warnings and "no early abort" in warnings and "no guidance_scale" in warnings
    assert allowed.action is Action.ALLOW
    (im,) = allowed.images
    assert isinstance(im.image, Image.Image) and im.image.size == (32, 32)  # arrays became an image
    assert im.attempt_log[0].steps_run == im.attempt_log[0].steps_planned == 12 and im.attempt_log[0].previews == []
    assert any("no early abort" in d for d in allowed.degraded)
    assert any(r.startswith("degraded: no negative_prompt") for r in allowed.decision_dict()["reasons"])
    # a steered prompt: the name is cut from the prompt, no negative prompt reaches the pipeline
    steered = gen.generate(f"a boat in {world.describe(OPT_OUT)}", seed=0, steps=12)
    assert steered.prompt_decision.action is Action.STEER and steered.negative_prompt is None
    assert all(a.negative_prompt is None for im in steered.images for a in im.attempt_log)
    for im in steered.images:
        if im.image is not None:
            assert gate.check_image(im.image).action not in (Action.BLOCK, Action.STEER)
    assert sum("no negative_prompt" in r.getMessage() for r in caplog.records) == 1


def test_a_failing_preview_turns_previews_off_and_the_post_check_decides(
    gate: PolicyGate, styleworld_pipe: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import stylegate.generator.early_abort as early_abort

    def broken(pipe: Any, x0: Any) -> Any:
        raise RuntimeError("no decoder")

    monkeypatch.setattr(early_abort, "decode_preview", broken)
    with caplog.at_level(logging.WARNING, logger="stylegate.generator.early_abort"):
        result = GatedGenerator(gate, styleworld_pipe).generate(f"a mountain in {world.describe(UNREGISTERED[0])}", seed=0, steps=12)
    (im,) = result.images
    (attempt,) = im.attempt_log
    assert attempt.preview_error == "RuntimeError: no decoder" and attempt.previews == []
    assert attempt.stage == "output" and attempt.steps_run == 12 and im.decision.subject == "image"
    assert result.action is Action.ALLOW and im.image is not None
    assert sum("preview failed" in r.getMessage() for r in caplog.records) == 1  # once per run, then off


def test_capabilities_are_read_from_the_call_signature(styleworld_pipe: Any, tiny_sd: Any) -> None:
    assert PipelineCaps.inspect(styleworld_pipe).preview_source == PREVIEW_FROM_PIPELINE
    assert PipelineCaps.inspect(tiny_sd).preview_source == PREVIEW_FROM_SCHEDULER

    class CallbackButNoScheduler:
        def __call__(self, prompt: str, negative_prompt: str | None = None, callback_on_step_end: Any = None, **kwargs: Any) -> Any:
            raise AssertionError("not called")

    caps = PipelineCaps.inspect(CallbackButNoScheduler())
    assert caps.negative_prompt and caps.callback and caps.preview_source is None
    assert any("no early abort" in d for d in caps.degraded)
    assert not caps.accepts("kwargs")


def test_first_image_reads_pil_arrays_and_tensors() -> None:
    pil = Image.new("RGB", (4, 3), (10, 20, 30))
    assert first_image(type("Out", (), {"images": [pil]})()).getpixel((0, 0)) == (10, 20, 30)
    batch = np.zeros((2, 3, 4, 3), np.float32)
    batch[0, ..., 0] = 1.0
    assert first_image(batch).getpixel((0, 0)) == (255, 0, 0) and first_image(batch).size == (4, 3)
    assert first_image(([np.full((3, 4, 3), 7, np.uint8)],)).getpixel((1, 1)) == (7, 7, 7)
    tensor = torch.zeros(1, 3, 3, 4)
    tensor[0, 2] = 1.0
    assert first_image({"images": tensor}).getpixel((2, 2)) == (0, 0, 255)


# ------------------------------------------------------ predicted clean sample
@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_predicted_clean_sample_matches_the_scheduler(prediction: str) -> None:
    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    torch.manual_seed(0)
    sample, model_output = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    ddim = DDIMScheduler(prediction_type=prediction, clip_sample=False)
    ddim.set_timesteps(10)
    t = ddim.timesteps[3]
    expected = ddim.step(model_output, t, sample).pred_original_sample
    assert torch.allclose(predict_x0(ddim, sample, model_output, t), expected, atol=1e-5)

    def euler() -> Any:
        s = EulerDiscreteScheduler(prediction_type=prediction)
        s.set_timesteps(10)
        return s

    reference = euler()
    expected = reference.step(model_output, reference.timesteps[0], sample).pred_original_sample
    tapped = euler()
    with SchedulerTap(tapped) as tap:
        tapped.step(model_output, tapped.timesteps[0], sample, return_dict=False)  # a tuple: the tap computes x0 itself
    assert "step" not in vars(tapped)
    assert torch.allclose(tap.predicted_clean(), expected, atol=1e-5)


# ------------------------------------------------- the caller's own callbacks
class StepRecorder:
    """A caller's own diffusers callback: records each step and, at ``fix_at``, replaces the
    latents with a fixed tensor (so its output demonstrably reaches the pipeline)."""

    def __init__(self, fix_at: int | None = None) -> None:
        from diffusers.callbacks import PipelineCallback

        recorder = self

        class _Callback(PipelineCallback):
            tensor_inputs = ["latents", "prompt_embeds"]

            def callback_fn(self, pipeline: Any, step_index: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
                recorder.steps.append(step_index)
                recorder.seen.append(sorted(callback_kwargs))
                if step_index == recorder.fix_at:
                    callback_kwargs["latents"] = torch.full_like(callback_kwargs["latents"], 0.25)
                return callback_kwargs

        self.fix_at = fix_at
        self.steps: list[int] = []
        self.seen: list[list[str]] = []
        self.callback = _Callback()


def test_the_callers_pipeline_callback_runs_with_the_gates_previews(gate: PolicyGate, tiny_sd: Any) -> None:
    lenient = gate_with(gate, 'style = 0.72\nstyle_score = "normalised"', 'style = 0.99\nstyle_score = "cosine"')
    recorder = StepRecorder(fix_at=STEPS)  # the last of PNDM's STEPS + 1 iterations
    gen = GatedGenerator(lenient, tiny_sd, callback_on_step_end=recorder.callback)
    first = gen.generate("a cat on paper", seed=0, steps=STEPS)
    (im,) = first.images
    (attempt,) = im.attempt_log
    assert recorder.steps == list(range(STEPS + 1))  # the caller's callback ran on every step
    assert all(keys == ["latents", "prompt_embeds"] for keys in recorder.seen)  # with the tensors it asked for
    assert [p.step for p in attempt.previews] == SD_PREVIEWS and attempt.preview_error is None  # and so did the gate's
    # the caller's latents reached the pipeline: two seeds decode the same fixed latents
    second = gen.generate("a cat on paper", seed=5, steps=STEPS)
    assert np.array_equal(np.asarray(first.images[0].image), np.asarray(second.images[0].image))
    plain = GatedGenerator(lenient, tiny_sd).generate("a cat on paper", seed=5, steps=STEPS)
    assert not np.array_equal(np.asarray(plain.images[0].image), np.asarray(second.images[0].image))


def test_a_plain_function_callback_composes_and_the_gate_still_interrupts(gate: PolicyGate, tiny_sd: Any) -> None:
    strict = gate_with(gate, 'style = 0.72\nstyle_score = "normalised"', 'style = -0.90\nstyle_score = "cosine"')
    calls: list[tuple[int, tuple[str, ...]]] = []

    def mine(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        calls.append((step, tuple(sorted(kwargs))))
        return {}  # diffusers allows returning only what changed

    gen = GatedGenerator(strict, tiny_sd, callback_on_step_end=mine, callback_on_step_end_tensor_inputs=["latents"])
    result = gen.generate("a cat on paper", seed=0, steps=STEPS)
    assert result.action is Action.BLOCK
    attempts = result.images[0].attempt_log
    assert all(a.stage == "preview" and a.aborted_at == SD_FIRST for a in attempts)
    # one pipeline call per attempt, each interrupted on the first preview, the function called on each
    assert [step for step, _ in calls] == list(range(SD_FIRST)) * len(attempts)
    assert all(keys == ("latents",) for _, keys in calls)


def test_a_callback_of_the_wrong_type_is_refused() -> None:
    from stylegate.generator.callbacks import as_callbacks

    with pytest.raises(TypeError, match="PipelineCallback"):
        as_callbacks(42)
