"""Generation behind the gate: pre-check, generate, post-check, steer retries, attribution.

Nothing the post-check blocks is ever returned. A steered prompt has the opted-out names cut
out and their styles pushed away through the negative prompt; if an image still lands in an
opted-out style, the generator retries with a new seed and a stronger push, up to the
policy's limit, and then blocks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from stylegate.governance.attribution import attribution_shares
from stylegate.governance.decision import Action, Decision

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from stylegate.governance.gate import PolicyGate

log = logging.getLogger(__name__)


@dataclass
class GatedImage:
    index: int
    seed: int
    attempts: int
    action: Action
    decision: Decision  # the post-check of the image that was kept (or the last one tried)
    attribution: list = field(default_factory=list)
    image: "Image.Image | None" = None  # None when blocked

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "seed": self.seed,
            "attempts": self.attempts,
            "action": self.action.value,
            "attribution": [a.to_dict() for a in self.attribution],
            "post_check": self.decision.to_dict(),
        }


@dataclass
class GenerationResult:
    prompt: str
    prompt_decision: Decision
    used_prompt: str | None = None
    negative_prompt: str | None = None
    images: list[GatedImage] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def action(self) -> Action:
        """Block if nothing was produced; otherwise the strongest action among kept images."""
        kept = [im for im in self.images if im.image is not None]
        if self.prompt_decision.action is Action.BLOCK or not kept:
            return Action.BLOCK
        return max((im.action for im in kept), key=lambda a: a.severity)

    def attribution(self) -> list[dict[str, Any]]:
        """Shares over the whole generation: each kept image weighs the same; sums to 1."""
        kept = [im for im in self.images if im.image is not None and im.attribution]
        totals: dict[int, dict[str, Any]] = {}
        for im in kept:
            for a in im.attribution:
                entry = totals.setdefault(a.artist.id, {"artist": a.artist.to_dict(), "share": 0.0, "consent": a.consent})
                entry["share"] += a.share / len(kept)
        return sorted(totals.values(), key=lambda e: (-e["share"], e["artist"]["id"]))

    def decision_dict(self) -> dict[str, Any]:
        """The generation as one decision: final action, all evidence, overall attribution."""
        evidence = [e.to_dict() for e in self.prompt_decision.evidence]
        for im in self.images:
            evidence.extend(dict(e.to_dict(), image=im.index, attempt=im.attempts) for e in im.decision.evidence)
        reasons = list(self.prompt_decision.reasons)
        for im in self.images:
            reasons.extend(f"image {im.index} (seed {im.seed}, attempt {im.attempts}): {r}" for r in im.decision.reasons)
        return {
            "subject": "generation",
            "action": self.action.value,
            "evidence": evidence,
            "attribution": self.attribution(),
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
            "prompt_check": self.prompt_decision.to_dict(),
            "used_prompt": self.used_prompt,
            "negative_prompt": self.negative_prompt,
            "images": [im.to_dict() for im in self.images],
            "seconds": round(self.seconds, 3),
        }


class GatedGenerator:
    def __init__(
        self,
        gate: "PolicyGate",
        pipeline: Any = None,
        *,
        load_pipeline: "Callable[[], Any] | None" = None,
        guidance_scale: float = 3.0,
        steer_guidance_step: float = 1.5,
    ) -> None:
        """``pipeline`` or ``load_pipeline``: the latter is called on the first generation only,
        so a prompt the pre-check blocks never loads a model."""
        if (pipeline is None) == (load_pipeline is None):
            raise ValueError("give exactly one of pipeline and load_pipeline")
        self.gate = gate
        self._pipeline = pipeline
        self._load_pipeline = load_pipeline
        self.guidance_scale = guidance_scale
        self.steer_guidance_step = steer_guidance_step

    def generate(self, prompt: str, *, seed: int = 0, steps: int = 25, num_images: int = 1) -> GenerationResult:
        start = time.perf_counter()
        pre = self.gate.check_prompt(prompt)
        result = GenerationResult(prompt=prompt, prompt_decision=pre)
        if pre.action is Action.BLOCK:
            result.seconds = time.perf_counter() - start
            return result
        used_prompt, negatives = prompt, []
        if pre.action is Action.STEER and pre.steer:
            used_prompt = pre.steer["prompt"] or prompt
            negatives = [pre.steer["negative_prompt"]] if pre.steer["negative_prompt"] else []
        result.used_prompt = used_prompt
        result.negative_prompt = ", ".join(negatives) or None
        for i in range(num_images):
            result.images.append(self._one_image(i, used_prompt, list(negatives), seed + i, steps, pre))
        result.seconds = time.perf_counter() - start
        return result

    def _one_image(self, index: int, prompt: str, negatives: list[str], seed: int, steps: int, pre: Decision) -> GatedImage:
        max_attempts = 1 + self.gate.policy.steering.max_attempts
        guidance = self.guidance_scale
        post: Decision | None = None
        for attempt in range(1, max_attempts + 1):
            attempt_seed = seed + 1_000_003 * (attempt - 1)
            image = self._run_pipeline(prompt, ", ".join(negatives) or None, attempt_seed, steps, guidance)
            post = self.gate.check_image(image)
            if post.action not in (Action.BLOCK, Action.STEER):
                action = Action.STEER if pre.action is Action.STEER or attempt > 1 else Action.ALLOW
                attribution = attribution_shares(pre.evidence + post.evidence, self.gate.policy.attribution.floor)
                if attribution and action is Action.ALLOW:
                    action = Action.ATTRIBUTE
                return GatedImage(index, attempt_seed, attempt, action, post, attribution, image)
            log.info("image %d attempt %d: post-check says %s; steering away", index, attempt, post.action.value)
            for ev in post.evidence:
                if ev.action in (Action.BLOCK, Action.STEER):
                    artist = self.gate.view.artists[ev.artist.id]
                    for term in (artist.name, *artist.descriptors):
                        if term not in negatives:
                            negatives.append(term)
            guidance += self.steer_guidance_step
        if post is None:  # unreachable: max_attempts >= 1
            raise RuntimeError("no generation attempt was made")
        return GatedImage(index, attempt_seed, max_attempts, Action.BLOCK, post, [], None)

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None and self._load_pipeline is not None:
            self._pipeline = self._load_pipeline()
        return self._pipeline

    def _run_pipeline(self, prompt: str, negative: str | None, seed: int, steps: int, guidance: float) -> "Image.Image":
        import torch

        generator = torch.Generator("cpu").manual_seed(seed)
        out = self.pipeline(
            prompt=prompt,
            negative_prompt=negative,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator,
            output_type="pil",
        )
        return out.images[0]
