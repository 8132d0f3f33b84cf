"""`stylegate generate`: parse the options, call :func:`stylegate.operations.generate_to_dir`,
print what was written."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from stylegate.errors import StylegateError
from stylegate.output import emit_json, message, print_decision, table

from ._common import DEVICES, DTYPES, JsonOpt, choice, handled, open_workspace


@handled
def generate(
    prompt: str = typer.Argument(..., help="What to draw."),
    model: Optional[str] = typer.Option(None, "--model", help="Diffusers pipeline: hub id or local folder (default: the bundled StyleWorld pipeline)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first image; image i uses seed + i."),
    steps: int = typer.Option(25, "--steps", min=1, max=500, help="Denoising steps."),
    num_images: int = typer.Option(1, "--num-images", min=1, max=16, help="Images to generate."),
    out: Path = typer.Option(Path("stylegate-out"), "--out", help="Folder for the allowed images."),
    guidance: Optional[float] = typer.Option(None, "--guidance", min=0.0, max=50.0,
                                             help="Classifier-free guidance scale (default: the pipeline's own)."),
    height: Optional[int] = typer.Option(None, "--height", min=8, max=4096, help="Image height, where the pipeline takes one."),
    width: Optional[int] = typer.Option(None, "--width", min=8, max=4096, help="Image width, where the pipeline takes one."),
    device: Optional[str] = typer.Option(None, "--device", **choice("--device", DEVICES),
                                         help="Device for the pipeline (default: the global --device)."),
    dtype: str = typer.Option("auto", "--dtype", **choice("--dtype", DTYPES), help="Weights' dtype for a --model pipeline."),
    early_abort: bool = typer.Option(True, "--early-abort/--no-early-abort", help="Preview and stop doomed runs early."),
    image: Optional[Path] = typer.Option(None, "--image", help="Init image for an img2img or inpainting --model (checked first)."),
    style_reference: Optional[Path] = typer.Option(None, "--style-reference", help="IP-Adapter style reference image (checked first)."),
    as_json: bool = JsonOpt,
) -> None:
    """Generate behind the gate: pre-check, generate, post-check every image, steer or block."""
    from stylegate.operations.generate import generate_to_dir

    outcome = generate_to_dir(
        open_workspace(), prompt, out, model=model, seed=seed, steps=steps, num_images=num_images, guidance=guidance,
        height=height, width=width, device=device, dtype=dtype, early_abort=early_abort, image=image,
        style_reference=style_reference,
    )
    if as_json:
        emit_json(outcome.to_dict())
    else:
        print_decision(outcome.decision)
        _print_attempts(outcome.result)
        for item in outcome.files:
            message(f"wrote {item['path']} ({item['action']})")
        if outcome.blocked_images:
            message(f"{outcome.blocked_images} image(s) blocked by the post-check and not written")
    if outcome.failed:
        raise StylegateError(f"{len(outcome.failed)} image(s) could not be written ({outcome.failed[0]['error']}); "
                             "the audit log records which")
    raise typer.Exit(outcome.exit_code)


def _print_attempts(result: Any) -> None:
    """Each image's pipeline runs, when any took more than one: what each retry changed
    (prompt, seed, guidance, negative prompt) and what the check said."""
    rows = [[im.index, a.attempt, a.candidate, a.seed, a.guidance_scale, a.prompt, a.negative_prompt or "-",
             f"{a.stage}: {a.action.value}", a.steps_run]
            for im in result.images if len(im.attempt_log) > 1 for a in im.attempt_log]
    if rows:
        table("attempts", ["image", "attempt", "candidate", "seed", "guidance", "prompt", "negative prompt", "check",
                           "steps"], rows)
