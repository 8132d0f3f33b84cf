"""Gated generation into a folder: gate, generate, audit, sign, write.

The audit entry is written before any image, so every written image names it in its signed
metadata; an image that then cannot be written is recorded in a correction entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylegate.errors import EXIT_BLOCKED, EXIT_OK, InputError

from .audit import record_decision

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.generator.gated import GenerationResult
    from stylegate.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationOutcome:
    """A generation: the gated result, its audit entry and the files written (``failed``:
    images that could not be written, recorded in a correction entry)."""

    result: GenerationResult
    decision: dict[str, Any]
    files: list[dict[str, Any]]
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def audit_seq(self) -> int:
        return int(self.decision["audit_seq"])

    @property
    def blocked_images(self) -> int:
        return sum(1 for im in self.result.images if im.image is None)

    @property
    def exit_code(self) -> int:
        return EXIT_BLOCKED if self.result.action.value == "block" else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return dict(self.result.to_dict(), audit_seq=self.audit_seq, files=self.files)


def prepare_out_dir(out: Path) -> None:
    """The output folder must be a folder we can create or write: checked before anything is
    generated, created only when there is an image to write."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the images")
    existing = out
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"--out {out}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: {existing} is not writable")


def input_images(ws: Workspace, given: dict[str, Path | None]) -> dict[str, Any]:
    """The pipeline's input images, validated like reference works before any model loads."""
    from stylegate.registry.validation import validate_work

    images = {}
    for name, path in given.items():
        if path is None:
            continue
        if not path.exists():
            raise InputError(f"no such file: {path}")
        images[name] = validate_work(path, ws.work_limits()).to_rgb()
    return images


def free_name(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem.suffix``, or ``stem-2.suffix``… when taken: earlier images are never overwritten."""
    candidate, n = folder / f"{stem}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate


def generate_to_dir(
    ws: Workspace,
    prompt: str,
    out_dir: str | os.PathLike[str],
    *,
    model: str | None = None,
    seed: int = 0,
    steps: int = 25,
    num_images: int = 1,
    guidance: float | None = None,
    height: int | None = None,
    width: int | None = None,
    device: str | None = None,
    dtype: str = "auto",
    early_abort: bool = True,
    image: Path | None = None,
    style_reference: Path | None = None,
    stem: str | None = None,
    load_pipeline: Any = None,
    pipeline: Any = None,
    callback_on_step_end: Any = None,
    callback_on_step_end_tensor_inputs: list[str] | None = None,
) -> GenerationOutcome:
    """Pre-check, generate, post-check every image, then audit, sign and write the kept ones.

    Bad input (prompt, folder, input images, model reference) fails before any model loads.
    ``stem`` names the files (default ``stylegate-SEED``; image i is ``STEM-i-SEED_i.png``);
    ``load_pipeline`` replaces loading ``model`` (a front end that keeps one pipeline warm);
    ``pipeline`` is an already loaded diffusers pipeline (the Python API gating one's own).
    ``callback_on_step_end`` (and its tensor inputs): the caller's own step-end callbacks,
    run on every denoising step before the gate's preview callback.
    """
    from stylegate.generator.early_abort import EarlyAbortConfig
    from stylegate.generator.gated import GatedGenerator
    from stylegate.generator.loading import load_text_to_image
    from stylegate.governance.embedder import resolve_device

    folder = Path(out_dir)
    gate = ws.gate()
    gate.validate_prompt(prompt)
    prepare_out_dir(folder)
    inputs = input_images(ws, {"image": image, "ip_adapter_image": style_reference})
    if model is not None:
        from stylegate.generator.loading import check_model_ref

        check_model_ref(model)
    if pipeline is not None:
        if load_pipeline is not None or model is not None:
            raise InputError("give at most one of model, pipeline and load_pipeline")
        given = pipeline

        def load_pipeline() -> Any:
            return given

    if load_pipeline is None:
        pipeline_device = resolve_device(device or ws.settings.device)

        def load_pipeline() -> Any:
            return load_text_to_image(model, device=pipeline_device, dtype=dtype)

    generator = GatedGenerator(
        gate,
        load_pipeline=load_pipeline,
        guidance_scale=guidance,
        height=height,
        width=width,
        early_abort=EarlyAbortConfig() if early_abort else None,
        callback_on_step_end=callback_on_step_end,
        callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
    )
    result = generator.generate(prompt, seed=seed, steps=steps, num_images=num_images, inputs=inputs)
    name = model or ("styleworld" if pipeline is None else type(pipeline).__name__)
    return write_generation(ws, result, prompt, folder, pipeline=name, steps=steps,
                            stem=stem or f"stylegate-{seed}")


def write_generation(ws: Workspace, result: GenerationResult, prompt: str, out_dir: Path, *, pipeline: str,
                     steps: int, stem: str) -> GenerationOutcome:
    """Audit a generation, then sign and write its kept images (C2PA and stylegate provenance)
    and record each for soft-binding lookups."""
    from stylegate.errors import CredentialError
    from stylegate.generator.content_credentials import signer_from_settings, write_with_credentials
    from stylegate.governance.audit import AuditKind
    from stylegate.governance.audit.signing import load_or_create_signer

    decision = result.decision_dict()
    kept = [(im, im.image) for im in result.images if im.image is not None]
    written: list[dict[str, Any]] = [
        {"path": str(free_name(out_dir, f"{stem}-{im.index}-{im.seed}", ".png")), "seed": im.seed,
         "action": im.action.value}
        for im, _ in kept
    ]
    record_decision(
        ws,
        AuditKind.GENERATE,
        decision,
        prompt=prompt,
        images=written,
        seeds=[im.seed for im in result.images],
        pipeline=pipeline,
        steps=steps,
        timings={k: round(v, 4) for k, v in result.timings.items()},
        seconds=round(result.seconds, 3),
    )
    gate = ws.gate()
    signer = load_or_create_signer(ws.settings.home)
    failed: list[dict[str, Any]] = []
    if kept:
        credentials = signer_from_settings(ws.settings)
        out_dir.mkdir(parents=True, exist_ok=True)
    for (im, pixels), item in zip(kept, written):
        path = str(item["path"])
        record = {
            "decision": im.action.value,
            "attribution": [a.to_dict() for a in im.attribution],
            "evidence": [e.to_dict() for e in im.decision.evidence],
            "policy_version": decision["policy_version"],
            "models": {"embedder": decision["embedder"], "pipeline": pipeline},
            "audit_seq": decision["audit_seq"],
            "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
            "seed": im.seed,
            "steps": steps,
        }
        try:
            write_with_credentials(pixels, Path(path), record, credentials, provenance_signer=signer, overwrite=False)
        except (OSError, CredentialError) as exc:
            failed.append({"path": path, "error": f"{type(exc).__name__}: {exc}"})
            continue
        _remember_output(ws, gate, decision, path, pixels)
    if failed:
        _record_unwritten(ws, decision["audit_seq"], written, failed)
        written = [w for w in written if w["path"] not in {f["path"] for f in failed}]
    return GenerationOutcome(result, decision, written, failed)


def _remember_output(ws: Workspace, gate: Any, decision: dict[str, Any], path: str, image: Any) -> None:
    """Record a written image for soft-binding lookups; a failure here is logged, not fatal."""
    from stylegate.errors import SoftBindingError
    from stylegate.generator.soft_binding import OutputStore

    try:
        embedding = gate.embedder.embed_images([image])[0] if gate.embedder is not None else None
        with OutputStore.for_home(ws.settings.home) as store:
            store.add(decision["audit_seq"], path, image, embedding, json.dumps(decision["embedder"], sort_keys=True))
    except SoftBindingError as exc:
        log.warning("%s was written but not recorded for soft binding: %s", path, exc)


def _record_unwritten(ws: Workspace, seq: int, planned: list[dict[str, Any]], failed: list[dict[str, Any]]) -> None:
    """Correct a generation's audit entry durably: these images were never written."""
    from stylegate.governance.audit import AuditKind

    ws.audit.append(AuditKind.GENERATE_CORRECTION, {
        "corrects": seq, "unwritten": failed,
        "written": [p["path"] for p in planned if p["path"] not in {f["path"] for f in failed}],
    })
