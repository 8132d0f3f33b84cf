"""StyleWorldPipeline: a tiny pixel-space text-to-image diffusers pipeline.

This file is self-contained (torch, diffusers, transformers only): it is also copied
verbatim into the shipped pipeline folder as ``pipeline_styleworld.py``, and
``model_index.json`` names the class as ``["pipeline_styleworld", "StyleWorldPipeline"]``.
Load it with::

    DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)

Components (all standard classes):

* ``tokenizer``: ``transformers.CLIPTokenizer`` built from open_clip's bundled BPE vocabulary;
* ``text_encoder``: ``transformers.CLIPTextModelWithProjection``, the frozen text tower of the
  ``styleworld-clip`` open_clip model converted to transformers' layout;
* ``unet``: ``diffusers.UNet2DConditionModel`` denoising RGB pixels in [-1, 1];
* ``scheduler``: ``diffusers.DDIMScheduler``.

Conditioning: the UNet cross-attends to the text encoder's token hidden states and receives
the L2-normalised projected (pooled) text embedding, times ``COND_SCALE``, as its
``class_labels`` (a projection class embedding added to the timestep embedding).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor

COND_SCALE = 8.0
# DDIM eta: 1.0 samples stochastically (ancestral, DDPM-like). Issue #13's diagnosis: on the
# shipped weights, deterministic DDIM (eta 0) drew a recognisable subject in 65.6% of 96 plain
# prompts and the named artist's style in 89.6%; eta 1.0 drew 86.5% and 100% (same seeds).
DEFAULT_ETA = 1.0
# Classifier-free guidance: at eta 1, after the round-8 fine-tune, guidance 2.0 drew the plain
# subject in 94.8% of 96 prompts (3.0: 83.3%, 4.0: 76.0%) and the named artist's style in 100%
# (3.0: 99.0%); `GatedGenerator` uses this default when the caller gives none.
DEFAULT_GUIDANCE = 2.0


class StyleWorldPipeline(DiffusionPipeline):
    """Text-to-image pipeline for the StyleWorld tiny models (pixel space, no VAE)."""

    model_cpu_offload_seq = "text_encoder->unet"
    _callback_tensor_inputs = [
        "latents", "prompt_embeds", "negative_prompt_embeds", "noise_pred", "pred_original_sample",
    ]

    def __init__(self, unet, scheduler, text_encoder, tokenizer):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer)

    # -- properties mirroring diffusers' conventions ---------------------------------------
    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1.0

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def interrupt(self) -> bool:
        """Set ``pipe._interrupt = True`` in a step-end callback to stop denoising early."""
        return getattr(self, "_interrupt", False)

    @property
    def steps_run(self) -> int:
        """Denoising steps actually run by the last call (fewer than requested if interrupted)."""
        return getattr(self, "_steps_run", 0)

    # -- text ---------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token hidden states ``(B, L, D)`` and scaled normalised pooled embeddings ``(B, E)``."""
        tok = self.tokenizer(
            list(texts), padding="max_length", max_length=self.tokenizer.model_max_length,
            truncation=True, return_tensors="pt",
        )
        out = self.text_encoder(input_ids=tok.input_ids.to(self.text_encoder.device))
        pooled = torch.nn.functional.normalize(out.text_embeds.float(), dim=-1) * COND_SCALE
        return out.last_hidden_state, pooled

    def encode_prompt(
        self,
        prompt: str | list[str] | None,
        num_images_per_prompt: int = 1,
        do_classifier_free_guidance: bool = True,
        negative_prompt: str | list[str] | None = None,
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor] | None]:
        """Encode prompts (and negative prompts, "" when absent) repeated per image."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        hid, pooled = self.encode_text(prompts)
        hid = hid.repeat_interleave(num_images_per_prompt, 0)
        pooled = pooled.repeat_interleave(num_images_per_prompt, 0)
        neg = None
        if do_classifier_free_guidance:
            if negative_prompt is None:
                negs = [""] * len(prompts)
            elif isinstance(negative_prompt, str):
                negs = [negative_prompt] * len(prompts)
            else:
                negs = list(negative_prompt)
                if len(negs) != len(prompts):
                    raise ValueError("negative_prompt must have as many entries as prompt")
            nh, npool = self.encode_text(negs)
            neg = (nh.repeat_interleave(num_images_per_prompt, 0), npool.repeat_interleave(num_images_per_prompt, 0))
        return (hid, pooled), neg

    # -- helpers for previews ----------------------------------------------------------------
    def predict_x0(self, latents: torch.Tensor, timestep: int | torch.Tensor, noise_pred: torch.Tensor) -> torch.Tensor:
        """Predicted clean image (in [-1, 1]) from noisy ``latents`` at ``timestep`` and the UNet output
        ``noise_pred`` (epsilon or v, per the scheduler's ``prediction_type``)."""
        t = int(timestep)
        a = self.scheduler.alphas_cumprod[t].to(latents.device, latents.dtype)
        if self.scheduler.config.prediction_type == "v_prediction":
            x0 = a.sqrt() * latents - (1 - a).sqrt() * noise_pred
        else:
            x0 = (latents - (1 - a).sqrt() * noise_pred) / a.sqrt()
        return x0.clamp(-1, 1)

    @staticmethod
    def latents_to_images(latents: torch.Tensor, output_type: str = "pil") -> Any:
        """Convert pixel-space latents in [-1, 1] to ``"pil"`` images, ``"np"`` arrays or ``"pt"`` tensors."""
        x = (latents.detach().float() / 2 + 0.5).clamp(0, 1)
        if output_type == "pt":
            return x
        arr = x.permute(0, 2, 3, 1).cpu().numpy()
        if output_type == "np":
            return arr
        if output_type == "pil":
            return StyleWorldPipeline.numpy_to_pil(arr)
        raise ValueError(f"unknown output_type {output_type!r}")

    # -- generation ---------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 25,
        guidance_scale: float = DEFAULT_GUIDANCE,
        num_images_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        height: int | None = None,
        width: int | None = None,
        eta: float = DEFAULT_ETA,
        output_type: str = "pil",
        return_dict: bool = True,
        callback_on_step_end: Callable[..., dict] | Any | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ):
        """Generate images for ``prompt``.

        ``callback_on_step_end(pipe, step, timestep, callback_kwargs)`` runs after each step with
        the tensors named in ``callback_on_step_end_tensor_inputs`` (default ``["latents"]``;
        also ``prompt_embeds``, ``negative_prompt_embeds``, ``noise_pred``,
        ``pred_original_sample``); it returns a dict whose entries replace those tensors.
        Setting ``pipe._interrupt = True`` stops denoising after the current step; the output
        then holds the (partially denoised) latents as they were.
        """
        try:
            from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback

            if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
                callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        except ImportError:  # pragma: no cover - older diffusers
            pass
        tensor_inputs = list(callback_on_step_end_tensor_inputs or ["latents"])
        bad = [k for k in tensor_inputs if k not in self._callback_tensor_inputs]
        if bad:
            raise ValueError(f"callback_on_step_end_tensor_inputs {bad} not in {self._callback_tensor_inputs}")
        if prompt is None:
            raise ValueError("prompt is required")
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"unknown output_type {output_type!r}")

        self._guidance_scale = float(guidance_scale)
        self._interrupt = False
        self._steps_run = 0
        device = self._execution_device
        size = self.unet.config.sample_size
        height = height or size
        width = width or size

        (prompt_embeds, pooled), neg = self.encode_prompt(
            prompt, num_images_per_prompt, self.do_classifier_free_guidance, negative_prompt
        )
        negative_prompt_embeds = neg[0] if neg is not None else None
        batch = prompt_embeds.shape[0]
        dtype = self.unet.dtype

        self.scheduler.set_timesteps(num_inference_steps, device=device)
        timesteps = self.scheduler.timesteps
        self._num_timesteps = len(timesteps)
        shape = (batch, self.unet.config.in_channels, height, width)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        else:
            latents = latents.to(device=device, dtype=dtype)
        latents = latents * self.scheduler.init_noise_sigma
        extra = {"eta": eta} if "eta" in self.scheduler.step.__code__.co_varnames else {}

        for i, t in enumerate(self.progress_bar(timesteps)):
            if self.interrupt:
                break
            if self.do_classifier_free_guidance:
                x_in = torch.cat([latents, latents])
                hid = torch.cat([negative_prompt_embeds, prompt_embeds]).to(dtype)
                cls = torch.cat([neg[1], pooled]).to(dtype)
            else:
                x_in, hid, cls = latents, prompt_embeds.to(dtype), pooled.to(dtype)
            x_in = self.scheduler.scale_model_input(x_in, t)
            out = self.unet(x_in, t, encoder_hidden_states=hid, class_labels=cls).sample
            if self.do_classifier_free_guidance:
                uncond, cond = out.chunk(2)
                noise_pred = uncond + self._guidance_scale * (cond - uncond)
            else:
                noise_pred = out
            step = self.scheduler.step(noise_pred, t, latents, **extra, generator=generator)
            pred_original_sample = getattr(step, "pred_original_sample", None)
            if pred_original_sample is None:
                pred_original_sample = self.predict_x0(latents, t, noise_pred)
            latents = step.prev_sample
            self._steps_run = i + 1

            if callback_on_step_end is not None:
                available = {
                    "latents": latents, "prompt_embeds": prompt_embeds,
                    "negative_prompt_embeds": negative_prompt_embeds, "noise_pred": noise_pred,
                    "pred_original_sample": pred_original_sample,
                }
                cb_kwargs = {k: available[k] for k in tensor_inputs}
                cb_out = callback_on_step_end(self, i, t, cb_kwargs) or {}
                latents = cb_out.pop("latents", latents)
                prompt_embeds = cb_out.pop("prompt_embeds", prompt_embeds)
                negative_prompt_embeds = cb_out.pop("negative_prompt_embeds", negative_prompt_embeds)

        images = self.latents_to_images(latents, output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)

