"""Early abort: stop a denoising run as soon as a preview lands in a style the policy rejects.

A ``callback_on_step_end`` (:class:`PreviewMonitor`) forms the predicted clean image at a few
configured points of the run (by default after 60 % and 80 % of its steps), embeds it
with the gate's embedder and runs the gate's image check on it. When the preview's decision
is one the post-check would reject (``block``, or ``steer`` for an image) with a margin over
the threshold (:class:`EarlyAbortConfig`), the monitor sets ``pipe._interrupt = True`` so
the doomed run does not burn its remaining steps. The
generator then treats the attempt like a post-check block and steers a retry.

Where the preview comes from, in order:

1. the pipeline's own ``pred_original_sample`` callback tensor (the StyleWorld pipeline);
2. otherwise, computed from the scheduler: :class:`SchedulerTap` wraps ``scheduler.step``
   for the duration of one call and records its inputs (noisy sample, model output,
   timestep, sigma); :func:`predict_x0` turns them into the predicted clean sample with the
   scheduler's ``alphas_cumprod`` (DDPM-family schedulers) or ``sigmas`` (Euler-family);
3. neither: no previews, and the caller says early abort is unavailable.

Latent pipelines decode the preview with their VAE (:func:`decode_preview`). A preview is an
optimisation, never the safety net: any failure while forming or checking one turns
previews off for the rest of that run (logged) and the post-check on the final image
decides, failing closed as it always does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stylegate.governance.decision import Action, Decision

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from stylegate.governance.gate import PolicyGate

log = logging.getLogger(__name__)

#: What an image check may say that makes the generator throw the image away and retry.
REJECTING = (Action.BLOCK, Action.STEER)

PREVIEW_FROM_PIPELINE = "pred_original_sample"
PREVIEW_FROM_SCHEDULER = "scheduler"


@dataclass(frozen=True)
class EarlyAbortConfig:
    """When to preview and how sure a preview must be before it stops a run.

    ``at``: preview points as fractions of the run's denoising steps; ``(0.3, 0.5, 0.7, 0.9)``
    previews after 8, 12, 18 and 22 of 25 steps. A preview after the last step would duplicate
    the post-check, so points are kept in ``[1, steps - 1]``.

    ``margin``: a preview is a noisier picture than the final image, so it aborts only when
    a rejecting piece of evidence clears its policy threshold by at least this much (in the
    gate's score units, cosine for style). ``confirm``: how many consecutive previews must
    reject before the run stops (1: the first one that does).

    The defaults are traced for the shipped StyleWorld pipeline (round-8 weights, stochastic
    DDIM eta 1, guidance 2.0) by ``python -m stylegate.bench.early_abort_trace``
    (``stylegate bench generate``'s calibration prompts, 2 seeds, first attempts and steered
    retries: 176 runs at 25 steps, previews after 20-90 % of the run, never stopping it),
    with a rule, not by hand: on the first seed, of 1,302 candidate (points, margin,
    confirm), those that stop >= 90 % of the runs the post-check rejects and falsely stop
    <= 4 % of the passing steered runs; of those, the most steps saved, then fewer previews,
    then the middle of the tied margins. Traced figures (choosing seed / held-out seed):
    doomed runs stopped 8/8 / 11/12, steps saved on them 61.0 % / 56.3 %, false aborts 1/80
    / 0/76 runs (steered: 1/41 / 0/38). The previous defaults ((0.6, 0.8), margin 0.24,
    traced on the round-7 weights at guidance 3) replayed on the same trace stop 18/20 doomed
    runs and save 35.0 % of their steps: with the new weights an early preview reads as the
    final image does, so earlier points pay.
    ``stylegate.bench.generate.measure_margins`` replays candidate margins at these points.
    """

    at: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
    margin: float = 0.2
    confirm: int = 1
    enabled: bool = True

    def __post_init__(self) -> None:
        bad = [f for f in self.at if not 0.0 < float(f) < 1.0]
        if bad:
            raise ValueError(f"early-abort preview points must be fractions in (0, 1), got {bad}")
        if self.confirm < 1:
            raise ValueError("confirm must be at least 1")

    def preview_steps(self, total: int) -> list[int]:
        """Step counts (1-based: "after this many steps") at which to preview a ``total``-step run."""
        if not self.enabled or total < 2:
            return []
        return sorted({min(total - 1, max(1, round(float(f) * total))) for f in self.at})

    def rejects(self, decision: Decision) -> bool:
        """Does this preview decision count towards stopping the run?"""
        if decision.action not in REJECTING:
            return False
        return any(e.action in REJECTING and e.score - e.threshold >= self.margin for e in decision.evidence)


@dataclass
class Preview:
    step: int  # steps completed when the preview was taken (1-based)
    action: Action  # the gate's decision on the preview
    rejects: bool  # counted towards stopping the run (rejecting evidence cleared threshold + margin)
    seconds: float
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "action": self.action.value,
            "rejects": self.rejects,
            "seconds": round(self.seconds, 4),
            "evidence": self.evidence,
        }


class PreviewMonitor:
    """A ``callback_on_step_end`` that previews, checks and interrupts.

    One monitor serves one pipeline call. ``steps_run`` counts completed steps (callbacks),
    ``aborted_at`` is the step count after which the run was interrupted (None if it ran to
    the end) and ``abort_decision`` the preview decision that caused it. Previews stop once
    the run is stopped or a preview failed.
    """

    def __init__(
        self,
        gate: PolicyGate,
        config: EarlyAbortConfig,
        steps: int,
        *,
        source: str | None,
        tap: SchedulerTap | None = None,
        interrupt: bool = True,
    ) -> None:
        """``interrupt=False`` is shadow mode: the monitor decides where it would stop the run
        (``aborted_at``) but lets it finish, so a benchmark can compare with the output check."""
        self.gate = gate
        self.interrupt = interrupt
        self.config = config
        self.steps = steps
        self.source = source
        self.tap = tap
        self.steps_run = 0
        self.total: int | None = None
        self.points: list[int] = []
        self.previews: list[Preview] = []
        self.aborted_at: int | None = None
        self.abort_decision: Decision | None = None
        self.error: str | None = None
        self.preview_seconds = 0.0

    @property
    def tensor_inputs(self) -> list[str]:
        return [PREVIEW_FROM_PIPELINE] if self.source == PREVIEW_FROM_PIPELINE else ["latents"]

    def __call__(self, pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        self.steps_run = step + 1
        if self.total is None:
            self.total = _planned_steps(pipe, self.steps)
            self.points = self.config.preview_steps(self.total)
        if self.aborted_at is not None or self.error is not None or self.steps_run not in self.points:
            return {}
        start = time.perf_counter()
        try:
            x0 = self._predicted_clean(pipe, callback_kwargs)
            image = decode_preview(pipe, x0)
            if self.gate.embedder is None:
                raise RuntimeError("no embedder configured")
            vector = self.gate.embedder.embed_images([image])[0]
            decision = self.gate.check_image_vector(vector)
        except Exception as exc:  # noqa: BLE001 - a preview failure must not break generation
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("early-abort preview failed at step %d (%s); previews are off for this run, the post-check still decides", self.steps_run, self.error)
            return {}
        finally:
            self.preview_seconds += time.perf_counter() - start
        rejects = self.config.rejects(decision)
        self.previews.append(Preview(self.steps_run, decision.action, rejects, time.perf_counter() - start, [e.to_dict() for e in decision.evidence]))
        recent = self.previews[-self.config.confirm :]
        if len(recent) == self.config.confirm and all(p.rejects for p in recent):
            self.aborted_at = self.steps_run
            self.abort_decision = decision
            if self.interrupt:
                pipe._interrupt = True
                log.info("early abort after %d of %s steps: preview says %s", self.steps_run, self.total, decision.action.value)
        return {}

    def _predicted_clean(self, pipe: Any, callback_kwargs: dict[str, Any]) -> Any:
        if self.source == PREVIEW_FROM_PIPELINE:
            return callback_kwargs[PREVIEW_FROM_PIPELINE]
        if self.tap is None or self.tap.last is None:
            raise RuntimeError("no scheduler step was recorded to form a preview from")
        return self.tap.predicted_clean()


def _planned_steps(pipe: Any, steps: int) -> int:
    """Denoising iterations the pipeline set up for this call (``num_timesteps``), else ``steps``."""
    value = getattr(pipe, "_num_timesteps", None)
    if value is None:
        return steps
    try:
        planned = int(value)
    except (TypeError, ValueError):
        return steps
    return planned if planned > 0 else steps


# --------------------------------------------------------------------- scheduler
@dataclass
class _StepRecord:
    sample: Any
    model_output: Any
    timestep: Any
    sigma: float | None
    pred_original_sample: Any = None


class SchedulerTap:
    """Wraps ``scheduler.step`` on the instance for the duration of a ``with`` block and records
    the last call's inputs, so the predicted clean sample can be formed at step end."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.last: _StepRecord | None = None
        self._had_instance_attr = False
        self._previous: Any = None

    def __enter__(self) -> SchedulerTap:
        scheduler = self.scheduler
        self._had_instance_attr = "step" in vars(scheduler)
        self._previous = vars(scheduler).get("step")
        original = scheduler.step

        def step(*args: Any, **kwargs: Any) -> Any:
            model_output = kwargs.get("model_output", args[0] if len(args) > 0 else None)
            timestep = kwargs.get("timestep", args[1] if len(args) > 1 else None)
            sample = kwargs.get("sample", args[2] if len(args) > 2 else None)
            sigma = _current_sigma(scheduler, timestep)
            out = original(*args, **kwargs)
            self.last = _StepRecord(sample, model_output, timestep, sigma, getattr(out, "pred_original_sample", None))
            return out

        scheduler.step = step
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._had_instance_attr:
            self.scheduler.step = self._previous
        else:
            try:
                del self.scheduler.step
            except AttributeError:  # pragma: no cover - already gone
                pass

    def predicted_clean(self) -> Any:
        record = self.last
        if record is None:
            raise RuntimeError("no scheduler step recorded")
        if record.pred_original_sample is not None:
            return record.pred_original_sample
        return predict_x0(self.scheduler, record.sample, record.model_output, record.timestep, record.sigma)


def uses_sigmas(scheduler: Any) -> bool:
    """True for k-diffusion style schedulers (Euler, Heun, LMS, …): inputs scaled by sigma."""
    try:
        return float(getattr(scheduler, "init_noise_sigma", 1.0)) > 1.0 + 1e-6 and getattr(scheduler, "sigmas", None) is not None
    except (TypeError, ValueError):
        return False


def _current_sigma(scheduler: Any, timestep: Any) -> float | None:
    if not uses_sigmas(scheduler):
        return None
    try:
        index = getattr(scheduler, "step_index", None)
        if index is None:
            index = scheduler.index_for_timestep(timestep)
        return float(scheduler.sigmas[int(index)])
    except Exception:  # noqa: BLE001 - no sigma: predict_x0 falls back to alphas_cumprod
        return None


def predict_x0(scheduler: Any, sample: Any, model_output: Any, timestep: Any, sigma: float | None = None) -> Any:
    """The predicted clean sample from a noisy ``sample`` and the model's output at ``timestep``.

    ``prediction_type`` epsilon, v_prediction or sample; sigma-space when ``sigma`` is given
    (Euler-family schedulers, ``sample`` unscaled), otherwise from ``alphas_cumprod``.
    """
    if sample is None or model_output is None:
        raise ValueError("the scheduler step gave no sample or model output")
    prediction = getattr(scheduler, "config", {}).get("prediction_type", "epsilon")
    if model_output.shape != sample.shape:  # learned variance: the first half is the prediction
        model_output = model_output[:, : sample.shape[1]]
    if prediction == "sample":
        return model_output
    if sigma is not None:
        if prediction == "v_prediction":
            return model_output * (-sigma / (sigma**2 + 1) ** 0.5) + sample / (sigma**2 + 1)
        return sample - sigma * model_output
    alphas = getattr(scheduler, "alphas_cumprod", None)
    if alphas is None:
        raise ValueError(f"{type(scheduler).__name__} has neither sigmas nor alphas_cumprod")
    t = int(round(float(timestep)))
    t = min(max(t, 0), len(alphas) - 1)
    a = alphas[t].to(device=sample.device, dtype=sample.dtype)
    if prediction == "v_prediction":
        return a.sqrt() * sample - (1 - a).sqrt() * model_output
    return (sample - (1 - a).sqrt() * model_output) / a.sqrt()


# ------------------------------------------------------------------------ decode
def decode_preview(pipe: Any, x0: Any) -> Image.Image:
    """The first image of a predicted clean sample, as PIL.

    Pixel-space pipelines with ``latents_to_images`` (StyleWorld) use it; pipelines with a
    VAE decode through it (scaling and shift factors from its config); otherwise the sample
    is taken as pixels in [-1, 1].
    """
    import torch

    with torch.no_grad():
        x0 = x0[:1]
        if hasattr(pipe, "latents_to_images"):
            return pipe.latents_to_images(x0, "pil")[0]
        vae = getattr(pipe, "vae", None)
        if vae is not None:
            config = vae.config
            scaling = getattr(config, "scaling_factor", None) or 1.0
            shift = getattr(config, "shift_factor", None) or 0.0
            latents = (x0 / scaling + shift).to(device=vae.device, dtype=vae.dtype)
            x0 = vae.decode(latents, return_dict=False)[0]
        return tensor_to_pil(x0[0])


def tensor_to_pil(x: Any) -> Image.Image:
    """A ``(C, H, W)`` tensor in [-1, 1] to an RGB PIL image."""
    import numpy as np
    import torch
    from PIL import Image

    arr = ((x.detach().float().cpu() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return Image.fromarray(arr[..., :3]).convert("RGB")
