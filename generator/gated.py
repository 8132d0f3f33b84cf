"""Generation behind the gate: pre-check, generate, post-check, steer retries, attribution.

Nothing the post-check blocks is ever returned. A steered prompt has the opted-out names cut
out and their styles pushed away through the negative prompt; if an image still lands in an
opted-out style, the generator retries with a new seed, a rewrite that removes more and a
negative prompt (at the same guidance unless ``steering.retry_guidance_step`` raises it), up
to the policy's limit, and then blocks.

While an image denoises, a step-end callback previews the predicted clean image at a few
points (:mod:`stylegate.generator.early_abort`); a preview the image check rejects
interrupts the run, and the attempt counts as blocked: the generator goes on to the steer
retry as it would after a post-check block, without spending the remaining steps.

A steered output must also keep the subject: the gate's own CLIP checks it
(:mod:`stylegate.governance.subject_check`). While an attempt's output passes the post-check
but does not show the subject, the attempt samples another candidate (a new seed, the same
prompt), up to ``steering.subject_candidates``, and keeps the passing candidate that shows it
best; a candidate the post-check rejects ends the attempt, and the retry pushes harder.

Any diffusers text-to-image pipeline works: the generator reads its ``__call__`` signature
and passes only what it accepts. A pipeline without ``negative_prompt`` cannot be steered
by negative prompt, one without ``callback_on_step_end`` cannot abort early; both still run
through the gate, with a logged warning naming what is degraded.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stylegate.errors import InputError
from stylegate.generator.early_abort import (
    PREVIEW_FROM_PIPELINE,
    PREVIEW_FROM_SCHEDULER,
    REJECTING,
    EarlyAbortConfig,
    Preview,
    PreviewMonitor,
    SchedulerTap,
)
from stylegate.governance.attribution import attribute
from stylegate.governance.decision import Action, Decision
from stylegate.governance.subject_check import SubjectCheck, SubjectScore

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from stylegate.governance.gate import PolicyGate

log = logging.getLogger(__name__)

# Pipeline inputs that are references rather than the picture being edited: left out (a steer)
# instead of blocking, when the policy's steering.drop_blocked_references says so.
DROPPABLE_INPUTS = ("ip_adapter_image", "style_image", "reference_image")


# ------------------------------------------------------------------ results
@dataclass
class Attempt:
    """One pipeline run for one image: how far it got and what stopped it."""

    attempt: int
    seed: int
    guidance_scale: float | None
    negative_prompt: str | None
    steps_planned: int
    steps_run: int
    stage: str  # "output": the post-check decided; "preview": aborted early on a preview
    action: Action  # that stage's decision
    aborted_at: int | None = None  # steps completed when interrupted
    previews: list[Preview] = field(default_factory=list)
    preview_error: str | None = None
    seconds: float = 0.0
    prompt: str | None = None  # the prompt this attempt generated from (a retry may rewrite more)
    candidate: int = 0  # which of the attempt's candidates (new seeds while the subject is not found)
    subject: dict[str, Any] | None = None  # the subject check of this output (steered prompts)

    @property
    def steps_saved(self) -> int:
        return max(0, self.steps_planned - self.steps_run)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "seed": self.seed,
            "prompt": self.prompt,
            "guidance_scale": self.guidance_scale,
            "negative_prompt": self.negative_prompt,
            "steps_planned": self.steps_planned,
            "steps_run": self.steps_run,
            "stage": self.stage,
            "action": self.action.value,
            "aborted_at": self.aborted_at,
            "previews": [p.to_dict() for p in self.previews],
            **({"preview_error": self.preview_error} if self.preview_error else {}),
            "seconds": round(self.seconds, 4),
            "candidate": self.candidate,
            **({"subject": self.subject} if self.subject is not None else {}),
        }


@dataclass
class GatedImage:
    index: int
    seed: int
    attempts: int
    action: Action
    decision: Decision  # the check of the image that was kept (or of the last attempt: a preview if it was aborted)
    attribution: list = field(default_factory=list)
    image: Image.Image | None = None  # None when blocked
    attempt_log: list[Attempt] = field(default_factory=list)
    unprompted: list = field(default_factory=list)  # UnpromptedCredit: image-only style matches, not paid

    @property
    def steps_planned(self) -> int:
        return sum(a.steps_planned for a in self.attempt_log)

    @property
    def steps_run(self) -> int:
        return sum(a.steps_run for a in self.attempt_log)

    @property
    def samples(self) -> int:
        """Pipeline runs behind this image: every attempt's candidates."""
        return len(self.attempt_log)

    @property
    def aborted_attempts(self) -> int:
        return sum(1 for a in self.attempt_log if a.aborted_at is not None)

    @property
    def stage(self) -> str:
        return self.attempt_log[-1].stage if self.attempt_log else "output"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "seed": self.seed,
            "attempts": self.attempts,
            "action": self.action.value,
            "attribution": [a.to_dict() for a in self.attribution],
            **({"unprompted_style": [u.to_dict() for u in self.unprompted]} if self.unprompted else {}),
            "post_check": self.decision.to_dict(),
            "stage": self.stage,
            "steps_planned": self.steps_planned,
            "steps_run": self.steps_run,
            "samples": self.samples,
            "aborted_attempts": self.aborted_attempts,
            "attempt_log": [a.to_dict() for a in self.attempt_log],
        }


@dataclass
class GenerationResult:
    prompt: str
    prompt_decision: Decision
    used_prompt: str | None = None
    negative_prompt: str | None = None
    images: list[GatedImage] = field(default_factory=list)
    seconds: float = 0.0
    degraded: list[str] = field(default_factory=list)  # what this pipeline cannot do behind the gate
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    input_decision: Decision | None = None  # the check of the pipeline's input images, if any
    dropped_inputs: list[str] = field(default_factory=list)  # references left out instead of blocking

    @property
    def action(self) -> Action:
        """Block if nothing was produced; otherwise the strongest action among kept images."""
        kept = [im for im in self.images if im.image is not None]
        inputs_block = self.input_decision is not None and self.input_decision.action is Action.BLOCK
        if self.prompt_decision.action is Action.BLOCK or inputs_block or not kept:
            return Action.BLOCK
        if self.dropped_inputs:
            return max([Action.STEER, *(im.action for im in kept)], key=lambda a: a.severity)
        return max((im.action for im in kept), key=lambda a: a.severity)

    @property
    def steps_planned(self) -> int:
        return sum(im.steps_planned for im in self.images)

    @property
    def steps_run(self) -> int:
        return sum(im.steps_run for im in self.images)

    def attribution(self) -> list[dict[str, Any]]:
        """Shares over the whole generation: each kept image weighs the same; sums to 1."""
        kept = [im for im in self.images if im.image is not None and im.attribution]
        totals: dict[int, dict[str, Any]] = {}
        for im in kept:
            for a in im.attribution:
                entry = totals.setdefault(a.artist.id, {"artist": a.artist.to_dict(), "share": 0.0, "consent": a.consent})
                entry["share"] += a.share / len(kept)
                if a.held:  # an unverified artist's share: recorded, not paid
                    entry["held"] = True
        return sorted(totals.values(), key=lambda e: (-e["share"], e["artist"]["id"]))

    def unprompted_style(self) -> list[dict[str, Any]]:
        """Artists whose style a kept image matched without the request asking for it (not
        paid under ``attribution.basis = "requested"``): the strongest match per artist and
        how many kept images had one."""
        best: dict[int, dict[str, Any]] = {}
        for im in self.images:
            if im.image is None:
                continue
            for u in im.unprompted:
                item = dict(u.to_dict(), images=1)
                mine = best.get(u.artist.id)
                if mine is not None:
                    item["images"] = mine["images"] + 1
                    if mine["weight"] >= item["weight"]:
                        item = dict(mine, images=item["images"])
                best[u.artist.id] = item
        return sorted(best.values(), key=lambda e: (-e["weight"], e["artist"]["id"]))

    def steps_summary(self) -> dict[str, Any]:
        planned, run = self.steps_planned, self.steps_run
        return {
            "planned": planned,
            "run": run,
            "saved": planned - run,
            "aborted_attempts": sum(im.aborted_attempts for im in self.images),
        }

    def decision_dict(self) -> dict[str, Any]:
        """The generation as one decision: final action, all evidence, overall attribution."""
        evidence = [e.to_dict() for e in self.prompt_decision.evidence]
        if self.input_decision is not None:
            evidence.extend(dict(e.to_dict(), stage="input") for e in self.input_decision.evidence)
        for im in self.images:
            stage = {"stage": im.stage}
            evidence.extend(dict(e.to_dict(), image=im.index, attempt=im.attempts, **stage) for e in im.decision.evidence)
        reasons = list(self.prompt_decision.reasons)
        if self.input_decision is not None:
            reasons.extend(self.input_decision.reasons)
        reasons.extend(f"input {name!r} left out: it is an opted-out artist's work or in their style"
                       for name in self.dropped_inputs)
        for im in self.images:
            reasons.extend(f"image {im.index} (seed {im.seed}, attempt {im.attempts}): {r}" for r in im.decision.reasons)
        reasons.extend(f"degraded: {d}" for d in self.degraded)
        return {
            "subject": "generation",
            "action": self.action.value,
            "evidence": evidence,
            "attribution": self.attribution(),
            "unprompted_style": self.unprompted_style(),
            "reasons": reasons,
            "policy_version": self.prompt_decision.policy_version,
            "embedder": self.prompt_decision.embedder,
            "steer": self.prompt_decision.steer,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "action": self.action.value,
            "attribution": self.attribution(),
            **({"unprompted_style": unprompted} if (unprompted := self.unprompted_style()) else {}),
            "prompt_check": self.prompt_decision.to_dict(),
            "used_prompt": self.used_prompt,
            "negative_prompt": self.negative_prompt,
            "images": [im.to_dict() for im in self.images],
            "steps": self.steps_summary(),
            "degraded": list(self.degraded),
            "seconds": round(self.seconds, 3),
            **({"input_check": self.input_decision.to_dict()} if self.input_decision is not None else {}),
            **({"dropped_inputs": list(self.dropped_inputs)} if self.dropped_inputs else {}),
        }


# ------------------------------------------------------------- pipelines
@dataclass(frozen=True)
class PipelineCaps:
    """What a pipeline's ``__call__`` accepts, and so what the gate can do with it."""

    name: str
    params: frozenset[str]
    preview_source: str | None  # PREVIEW_FROM_PIPELINE, PREVIEW_FROM_SCHEDULER or None
    degraded: tuple[str, ...]
    default_guidance: float | None = None  # the pipeline's own guidance_scale default, if it declares one

    def accepts(self, name: str) -> bool:
        return name in self.params

    @property
    def negative_prompt(self) -> bool:
        return self.accepts("negative_prompt")

    @property
    def callback(self) -> bool:
        return self.accepts("callback_on_step_end")

    @classmethod
    def inspect(cls, pipe: Any) -> PipelineCaps:
        name = type(pipe).__name__
        default_guidance: float | None = None
        try:
            signature = inspect.signature(pipe.__call__ if not inspect.isfunction(pipe) else pipe)
            params = frozenset(
                p.name for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            )
            declared = signature.parameters.get("guidance_scale")
            if declared is not None and isinstance(declared.default, (int, float)) and not isinstance(declared.default, bool):
                default_guidance = float(declared.default)
        except (TypeError, ValueError):  # no introspectable signature: pass the prompt only
            params = frozenset()
        degraded = []
        if "negative_prompt" not in params:
            degraded.append("no negative_prompt: steering by negative prompt is off (steered prompts are still rewritten and retried with new seeds)")
        if "guidance_scale" not in params:
            degraded.append("no guidance_scale: retries cannot push harder with guidance")
        if "generator" not in params:
            degraded.append("no generator: seeds are set through torch's global RNG")
        if "num_inference_steps" not in params:
            degraded.append("no num_inference_steps: the pipeline chooses its own step count")
        source = None
        if "callback_on_step_end" not in params:
            degraded.append("no callback_on_step_end: no early abort (every attempt runs all its steps; the post-check still decides)")
        else:
            tensor_inputs = list(getattr(pipe, "_callback_tensor_inputs", None) or [])
            scheduler = getattr(pipe, "scheduler", None)
            if PREVIEW_FROM_PIPELINE in tensor_inputs and "callback_on_step_end_tensor_inputs" in params:
                source = PREVIEW_FROM_PIPELINE
            elif scheduler is not None and callable(getattr(scheduler, "step", None)):
                source = PREVIEW_FROM_SCHEDULER
            else:
                degraded.append("no pred_original_sample and no scheduler to form a preview: no early abort")
        return cls(name=name, params=params, preview_source=source, degraded=tuple(degraded),
                   default_guidance=default_guidance)


def first_image(output: Any) -> Image.Image:
    """The first image of a pipeline's output, as an RGB PIL image.

    Accepts an output object with ``.images``, a ``(images,)`` tuple, a dict, a list of PIL
    images or arrays, a numpy array ``(N, H, W, C)``/``(H, W, C)`` in [0, 1] or uint8, or a
    torch tensor ``(N, C, H, W)``/``(C, H, W)`` in [0, 1].
    """
    from PIL import Image

    images = output
    if hasattr(output, "images"):
        images = output.images
    elif isinstance(output, dict) and "images" in output:
        images = output["images"]
    elif isinstance(output, tuple) and output:
        images = output[0]
    if isinstance(images, Image.Image):
        return images.convert("RGB")
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("the pipeline returned no images")
        first = images[0]
        if isinstance(first, Image.Image):
            return first.convert("RGB")
        return _array_to_pil(first, batched=False)
    return _array_to_pil(images, batched=True)


def _array_to_pil(value: Any, *, batched: bool) -> Image.Image:
    import numpy as np
    from PIL import Image

    channels_first = False
    if hasattr(value, "detach"):  # torch tensor: channels first
        value = value.detach().float().cpu().numpy()
        channels_first = True
    arr = np.asarray(value)
    if batched and arr.ndim == 4:
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"cannot read an image from an array of shape {arr.shape}")
    if channels_first or (arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4)):
        arr = np.transpose(arr, (1, 2, 0))
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(arr[..., :3])).convert("RGB")


# ------------------------------------------------------------- generator
FALLBACK_GUIDANCE = 3.0  # the first attempt's guidance for a pipeline that declares no default
CANDIDATE_SEED_STRIDE = 7_919  # seed of an attempt's candidate c: the attempt's seed + c * this


def steered_prompt(prompt: str, pre: Decision) -> tuple[str, str | None]:
    """The prompt and negative prompt to generate with after the pre-check ``pre``:
    the rewrite and the pushed-away styles when it steers, else the prompt unchanged."""
    if pre.action is Action.STEER and pre.steer:
        return pre.steer["prompt"] or prompt, pre.steer["negative_prompt"] or None
    return prompt, None


class GatedGenerator:
    def __init__(
        self,
        gate: PolicyGate,
        pipeline: Any = None,
        *,
        load_pipeline: Callable[[], Any] | None = None,
        guidance_scale: float | None = None,
        steer_guidance_step: float | None = None,
        height: int | None = None,
        width: int | None = None,
        early_abort: EarlyAbortConfig | None = EarlyAbortConfig(),
        callback_on_step_end: Any = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> None:
        """``pipeline`` or ``load_pipeline``: the latter is called on the first generation only,
        so a prompt the pre-check blocks never loads a model.

        ``guidance_scale``: the first attempt's classifier-free guidance (None: the pipeline's
        own default, :data:`FALLBACK_GUIDANCE` when it declares none; the StyleWorld pipeline's
        is 2.0). ``steer_guidance_step``: how much each steered retry raises the guidance (None: the
        policy's ``steering.retry_guidance_step``).

        ``height``/``width`` are passed when the pipeline accepts them. ``early_abort``
        configures the preview points (None or ``enabled=False``: no previews).
        ``callback_on_step_end``: the caller's own step-end callbacks (what diffusers takes:
        a ``PipelineCallback``, ``MultiPipelineCallbacks``, a function with its
        ``callback_on_step_end_tensor_inputs``, or a list); they run on every pipeline call,
        before the gate's own preview callback (see :mod:`stylegate.generator.callbacks`).
        """
        if (pipeline is None) == (load_pipeline is None):
            raise ValueError("give exactly one of pipeline and load_pipeline")
        self.gate = gate
        self._pipeline = pipeline
        self._load_pipeline = load_pipeline
        self._guidance_scale = guidance_scale
        self.steer_guidance_step = steer_guidance_step
        self.height = height
        self.width = width
        self.early_abort = early_abort if early_abort is not None else EarlyAbortConfig(enabled=False)
        self._caps: PipelineCaps | None = None
        self._user_callbacks: list[Any] = []
        if callback_on_step_end is not None:
            from stylegate.generator.callbacks import as_callbacks

            self._user_callbacks = as_callbacks(callback_on_step_end, callback_on_step_end_tensor_inputs)


    @property
    def guidance_scale(self) -> float:
        """The first attempt's guidance: the constructor's, else the pipeline's own default (loads it)."""
        if self._guidance_scale is not None:
            return self._guidance_scale
        declared = self.caps.default_guidance
        return FALLBACK_GUIDANCE if declared is None else declared

    @property
    def retry_guidance_step(self) -> float:
        """How much each steered retry raises the guidance: the constructor's, else the policy's."""
        if self.steer_guidance_step is not None:
            return self.steer_guidance_step
        return self.gate.policy.steering.retry_guidance_step

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None and self._load_pipeline is not None:
            self._pipeline = self._load_pipeline()
        return self._pipeline

    @property
    def caps(self) -> PipelineCaps:
        """The pipeline's capabilities (loads it); warns once about anything degraded."""
        if self._caps is None:
            caps = PipelineCaps.inspect(self.pipeline)
            degraded = list(caps.degraded)
            if (self.height is not None or self.width is not None) and not (caps.accepts("height") and caps.accepts("width")):
                degraded.append("no height/width: the pipeline's own image size is used")
            if self.early_abort.enabled and caps.preview_source is not None and self.gate.embedder is None:
                degraded.append("no embedder: no early abort")
            if self._user_callbacks and not caps.accepts("callback_on_step_end"):
                degraded.append("no callback_on_step_end: the caller's step-end callbacks cannot run")
            caps = dataclasses.replace(caps, degraded=tuple(degraded))
            for item in caps.degraded:
                log.warning("pipeline %s behind the gate is degraded: %s", caps.name, item)
            self._caps = caps
        return self._caps

    def generate(
        self, prompt: str, *, seed: int = 0, steps: int = 25, num_images: int = 1,
        inputs: dict[str, Image.Image] | None = None,
    ) -> GenerationResult:
        """Generate behind the gate. ``inputs``: images the pipeline takes, by parameter name
        (``image`` for img2img or inpainting, ``ip_adapter_image`` for a style reference);
        each is checked against the works index before anything is generated."""
        start = time.perf_counter()
        pre = self.gate.check_prompt(prompt)
        result = GenerationResult(prompt=prompt, prompt_decision=pre)
        result.timings["pre_check"] = time.perf_counter() - start
        if pre.action is Action.BLOCK:
            result.seconds = time.perf_counter() - start
            return result
        inputs = dict(inputs or {})
        if inputs:
            result.input_decision = self.gate.check_inputs(inputs)
            self._drop_blocked_references(result, inputs)
            if result.input_decision.action is Action.BLOCK:
                result.seconds = time.perf_counter() - start
                return result
            missing = sorted(k for k in inputs if not self.caps.accepts(k))
            if missing:
                raise InputError(f"the pipeline {self.caps.name} takes no {', '.join(missing)} input")
        checked_inputs = _CheckedInputs(inputs, list(result.input_decision.evidence) if result.input_decision else [])
        used_prompt, negative = steered_prompt(prompt, pre)
        # The rewrite already took the style out; whether the first attempt also pushes away
        # with a negative prompt is the policy's (on the StyleWorld pipeline the push cost
        # the subject and removed no more style: bench/README.md, `stylegate bench steer`).
        first_push = self.gate.policy.steering.negative_prompt == "always"
        negatives = [negative] if negative and first_push else []
        result.used_prompt = used_prompt
        result.negative_prompt = ", ".join(negatives) or None
        result.degraded = list(self.caps.degraded)
        if not self.caps.negative_prompt:
            result.negative_prompt = None
        for key in ("pipeline", "previews", "post_check"):
            result.timings[key] = 0.0
        for i in range(num_images):
            result.images.append(self._one_image(i, used_prompt, list(negatives), seed + i, steps, pre, result.timings,
                                                 original=prompt, inputs=checked_inputs))
        result.seconds = time.perf_counter() - start
        return result

    def _drop_blocked_references(self, result: GenerationResult, inputs: dict[str, Image.Image]) -> None:
        """A style reference that would block is left out (a steer), when the policy says so;
        an init image is what is being edited and cannot be left out."""
        decision = result.input_decision
        if decision is None or decision.action is not Action.BLOCK or not self.gate.policy.steering.drop_blocked_references:
            return
        blocking = {e.detail.get("input") for e in decision.evidence if e.action is Action.BLOCK}
        if blocking and blocking <= set(DROPPABLE_INPUTS):
            dropped = sorted(name for name in DROPPABLE_INPUTS if name in blocking)  # == sorted(blocking), as str
            for name in dropped:
                inputs.pop(name, None)
                result.dropped_inputs.append(name)
            kept = [e for e in decision.evidence if e.detail.get("input") not in blocking]
            result.input_decision = self.gate._decide("image-input", kept)  # what remains decides
            result.input_decision.reasons.append(
                f"left out {', '.join(dropped)}: an opted-out artist's work or in their style")

    def _one_image(
        self, index: int, prompt: str, negatives: list[str], seed: int, steps: int, pre: Decision, timings: dict[str, float],
        original: str | None = None, inputs: _CheckedInputs | None = None,
    ) -> GatedImage:
        inputs = inputs or _CheckedInputs({}, [])
        max_attempts = 1 + self.gate.policy.steering.max_attempts
        guidance = self.guidance_scale
        log_: list[Attempt] = []
        decision: Decision | None = None
        steered = pre.action is Action.STEER
        subject = self._subject_check(prompt) if steered else None
        for attempt in range(1, max_attempts + 1):
            attempt_seed = seed + 1_000_003 * (attempt - 1)
            negative = ", ".join(negatives) or None
            if subject is not None and subject.prompt != prompt:  # a retry that rewrote more
                subject = self._subject_check(prompt)
            candidates = self.gate.policy.steering.subject_candidates if subject is not None else 1
            kept: tuple[float, Attempt, Image.Image, Decision] | None = None
            for c in range(candidates):
                record, image, decision = self._sample(prompt, attempt, attempt_seed + CANDIDATE_SEED_STRIDE * c, steps,
                                                       negative, guidance, inputs, timings)
                record.candidate = c
                log_.append(record)
                if decision.action in REJECTING or image is None:
                    break  # in the style: no more seeds at this push, the retry pushes harder
                if subject is None:
                    kept = (0.0, record, image, decision)
                    break
                checked = time.perf_counter()
                found = self._score_subject(subject, image)
                timings["subject_check"] = timings.get("subject_check", 0.0) + time.perf_counter() - checked
                record.subject = found.to_dict() if found is not None else None
                margin = found.margin if found is not None else float("inf")
                if kept is None or margin > kept[0]:
                    kept = (margin, record, image, decision)
                if found is None or found.found:
                    break
            if kept is not None:
                _, record, image, decision = kept
                action = Action.STEER if steered or attempt > 1 else Action.ALLOW
                settings = self.gate.policy.attribution
                credit = attribute(pre.evidence + inputs.evidence, decision.evidence, floor=settings.floor,
                                   basis=settings.basis,
                                   hold_unverified=self.gate.policy.verification.hold_unverified_shares)
                if credit.shares and action is Action.ALLOW:
                    action = Action.ATTRIBUTE
                return GatedImage(index, record.seed, attempt, action, decision, credit.shares, image, log_,
                                  unprompted=credit.unprompted)
            if decision is None:  # unreachable: candidates >= 1
                raise RuntimeError("no generation attempt was made")
            log.info(
                "image %d attempt %d: %s says %s; steering away",
                index, attempt, "preview" if log_[-1].stage == "preview" else "post-check", decision.action.value,
            )
            for ev in decision.evidence:
                if ev.action in REJECTING:
                    artist = self.gate.view.artists[ev.artist.id]
                    for term in (artist.name, *artist.descriptors):
                        if term not in negatives:
                            negatives.append(term)
            if steered and original is not None:
                # the next attempt changes more than the seed: a rewrite that removes more,
                # and (unless the policy says never) a push away from the style
                plan = self.gate.steer_plan(original, None, pre, level=attempt)
                if plan["cleared"] and plan["prompt"]:
                    prompt = plan["prompt"]
                    if self.gate.policy.steering.negative_prompt != "never":
                        for term in plan["negative_prompt"].split(", "):
                            if term and term not in negatives:
                                negatives.append(term)
            guidance += self.retry_guidance_step
        if decision is None:  # unreachable: max_attempts >= 1
            raise RuntimeError("no generation attempt was made")
        return GatedImage(index, attempt_seed, max_attempts, Action.BLOCK, decision, [], None, log_)

    def _sample(
        self, prompt: str, attempt: int, seed: int, steps: int, negative: str | None, guidance: float,
        inputs: _CheckedInputs, timings: dict[str, float],
    ) -> tuple[Attempt, Image.Image | None, Decision]:
        """One pipeline run and its check (the preview's, if it stopped the run early)."""
        started = time.perf_counter()
        run = self.run_pipeline(prompt, seed=seed, steps=steps, negative_prompt=negative, guidance_scale=guidance,
                                inputs=inputs.images)
        image, monitor = run.image, run.monitor
        record = Attempt(
            attempt=attempt,
            seed=seed,
            guidance_scale=guidance if self.caps.accepts("guidance_scale") else None,
            negative_prompt=negative if self.caps.negative_prompt else None,
            steps_planned=run.steps_planned,
            steps_run=run.steps_run,
            stage="output",
            action=Action.ALLOW,
            previews=list(monitor.previews) if monitor else [],
            preview_error=monitor.error if monitor else None,
            prompt=prompt,
        )
        preview_seconds = monitor.preview_seconds if monitor is not None else 0.0
        timings["previews"] += preview_seconds
        timings["pipeline"] += run.seconds - preview_seconds
        if monitor is not None and monitor.abort_decision is not None:
            record.stage = "preview"
            record.aborted_at = monitor.aborted_at
            decision = _preview_decision(monitor.abort_decision, monitor.aborted_at, run.steps_planned)
        else:
            if image is None:  # only an early-aborted run has no image, and it has a preview decision
                raise RuntimeError("the pipeline run was interrupted without a preview decision")
            checked = time.perf_counter()
            decision = self.gate.check_image(image)
            timings["post_check"] += time.perf_counter() - checked
        record.action = decision.action
        record.seconds = time.perf_counter() - started
        return record, image, decision

    def _subject_check(self, prompt: str) -> SubjectCheck | None:
        """The subject test for a steered prompt; None (no test, one candidate) when the policy
        asks for one candidate, there is no embedder, or no subject word can be read."""
        steering = self.gate.policy.steering
        if steering.subject_candidates <= 1 or self.gate.embedder is None:
            return None
        try:
            return SubjectCheck(prompt, self.gate.text_vectors, steering.subject_vocabulary, steering.subject_margin)
        except ValueError as exc:  # a quality check, not a safety one: generation goes on without it
            log.warning("no subject check for %r: %s", prompt, exc)
            return None

    def _score_subject(self, check: SubjectCheck, image: Image.Image) -> SubjectScore | None:
        embedder = self.gate.embedder
        if embedder is None:
            return None
        return check.score(embedder.embed_images([image])[0])

    def run_pipeline(
        self,
        prompt: str,
        *,
        seed: int,
        steps: int,
        negative_prompt: str | None = None,
        guidance_scale: float | None = None,
        previews: bool = True,
        interrupt: bool = True,
        inputs: dict[str, Image.Image] | None = None,
    ) -> PipelineRun:
        """One pipeline call as the gate makes it, with no checks around it.

        Passes only what the pipeline accepts. With ``previews`` (and early abort enabled and
        possible) a :class:`PreviewMonitor` rides along as ``callback_on_step_end``;
        ``interrupt=False`` runs it in shadow mode (it records where it would stop the run).
        The image is None when the run was interrupted.
        """
        import torch

        pipe, caps = self.pipeline, self.caps
        guidance = self.guidance_scale if guidance_scale is None else guidance_scale
        kwargs: dict[str, Any] = {}
        if caps.accepts("prompt"):
            kwargs["prompt"] = prompt
        if negative_prompt is not None and caps.negative_prompt:
            kwargs["negative_prompt"] = negative_prompt
        if caps.accepts("num_inference_steps"):
            kwargs["num_inference_steps"] = steps
        if caps.accepts("guidance_scale"):
            kwargs["guidance_scale"] = guidance
        if caps.accepts("output_type"):
            kwargs["output_type"] = "pil"
        if caps.accepts("num_images_per_prompt"):
            kwargs["num_images_per_prompt"] = 1
        if caps.accepts("height") and caps.accepts("width"):
            if self.height is not None:
                kwargs["height"] = self.height
            if self.width is not None:
                kwargs["width"] = self.width
        for name, given in (inputs or {}).items():
            if caps.accepts(name):
                kwargs[name] = given
        if caps.accepts("generator"):
            kwargs["generator"] = torch.Generator("cpu").manual_seed(seed)
        else:
            torch.manual_seed(seed)
        monitor = tap = None
        if previews and self.early_abort.enabled and caps.preview_source is not None and self.gate.embedder is not None:
            if caps.preview_source == PREVIEW_FROM_SCHEDULER:
                tap = SchedulerTap(pipe.scheduler)
            monitor = PreviewMonitor(self.gate, self.early_abort, steps, source=caps.preview_source, tap=tap, interrupt=interrupt)
        if (monitor is not None or self._user_callbacks) and caps.accepts("callback_on_step_end"):
            from stylegate.generator.callbacks import compose

            composed = compose(self._user_callbacks, monitor)
            if composed is not None:
                kwargs["callback_on_step_end"], tensors = composed
                if caps.accepts("callback_on_step_end_tensor_inputs"):
                    kwargs["callback_on_step_end_tensor_inputs"] = tensors
        args = () if caps.accepts("prompt") else (prompt,)
        start = time.perf_counter()
        if tap is not None:
            with tap:
                out = pipe(*args, **kwargs)
        else:
            out = pipe(*args, **kwargs)
        seconds = time.perf_counter() - start
        if monitor is not None and monitor.total is not None:
            planned, run = monitor.total, monitor.steps_run
        else:
            planned = run = steps
        stopped = monitor is not None and monitor.interrupt and monitor.aborted_at is not None
        image = None if stopped else first_image(out)  # an interrupted run's output is never looked at
        return PipelineRun(image, monitor, planned, run, seconds)


@dataclass
class _CheckedInputs:
    """A generation's input images after the gate checked them, and the evidence they carry."""

    images: dict[str, Image.Image]
    evidence: list


@dataclass
class PipelineRun:
    image: Image.Image | None  # None when the run was interrupted
    monitor: PreviewMonitor | None
    steps_planned: int
    steps_run: int
    seconds: float  # wall time of the pipeline call, previews included


def _preview_decision(decision: Decision, step: int | None, planned: int) -> Decision:
    """The preview's decision, its reasons saying it stopped the run early."""
    head = f"early abort after {step} of {planned} steps, on a preview: "
    return dataclasses.replace(decision, reasons=[head + r for r in decision.reasons])
