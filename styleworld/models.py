"""Where the shipped StyleWorld models live and how to load them.

Heavy libraries (torch, open_clip, diffusers) are imported inside functions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CLIP_MODEL_NAME = "styleworld-clip"
# The second, independent StyleWorld embedder (another ViT width/depth/patch, its own seed):
# it exists so calibration can be shown to hold on an embedder the shipped thresholds were
# not fitted for (issue 12). Same 12 artists, trained the same way.
CLIP_SMALL_MODEL_NAME = "styleworld-clip-s"
SHIPPED_CLIPS = (CLIP_MODEL_NAME, CLIP_SMALL_MODEL_NAME)

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"
CLIP_CONFIG_PATH = PACKAGE_DIR / f"{CLIP_MODEL_NAME}.json"
CLIP_CHECKPOINT_NAME = f"{CLIP_MODEL_NAME}.safetensors"
PIPELINE_DIR_NAME = "styleworld-pipeline"
MANIFEST_PATH = WEIGHTS_DIR / "MANIFEST.json"


def _shipped(name: str) -> str:
    if name not in SHIPPED_CLIPS:
        raise ValueError(f"{name!r} is not a shipped StyleWorld CLIP ({', '.join(SHIPPED_CLIPS)})")
    return name


def clip_config_path(name: str = CLIP_MODEL_NAME) -> Path:
    """The open_clip JSON config of a shipped StyleWorld CLIP."""
    return PACKAGE_DIR / f"{_shipped(name)}.json"


def register_clip(name: str = CLIP_MODEL_NAME) -> str:
    """Register a shipped StyleWorld open_clip model config (idempotent); return its name."""
    import open_clip

    if _shipped(name) not in open_clip.list_models():
        open_clip.add_model_config(clip_config_path(name))
    return name


def clip_checkpoint_path(name: str = CLIP_MODEL_NAME) -> Path:
    """Path of a shipped tiny CLIP checkpoint (safetensors)."""
    return WEIGHTS_DIR / f"{_shipped(name)}.safetensors"


def clip_train_log_path(name: str = CLIP_MODEL_NAME) -> Path:
    """The training log JSON of a shipped tiny CLIP."""
    if name == CLIP_MODEL_NAME:
        return WEIGHTS_DIR / "train_clip_log.json"
    return WEIGHTS_DIR / f"train_clip_log.{_shipped(name)}.json"


def pipeline_path() -> Path:
    """Folder of the shipped StyleWorld diffusers pipeline."""
    return WEIGHTS_DIR / PIPELINE_DIR_NAME


def load_clip(device: str = "cpu", name: str = CLIP_MODEL_NAME) -> tuple[Any, Any, Any]:
    """Load a shipped tiny CLIP: ``(model, preprocess, tokenizer)``, model in eval mode.

    Equivalent to ``open_clip.create_model_and_transforms("styleworld-clip",
    pretrained=str(clip_checkpoint_path()))`` after :func:`register_clip`.
    """
    import open_clip

    name = register_clip(name)
    model, _, preprocess = open_clip.create_model_and_transforms(
        name, pretrained=str(clip_checkpoint_path(name)), device=device
    )
    model.eval()
    tokenizer = open_clip.get_tokenizer(name)
    return model, preprocess, tokenizer


def load_pipeline(device: str = "cpu"):
    """Load the shipped StyleWorld text-to-image pipeline (a diffusers ``DiffusionPipeline``).

    The folder's ``model_index.json`` names the pipeline class as
    ``["pipeline_styleworld", "StyleWorldPipeline"]`` with ``pipeline_styleworld.py`` next to
    it, which diffusers only executes with ``trust_remote_code=True``; the file is our own
    (identical to ``stylegate/styleworld/pipeline.py``), so this loader passes it.
    """
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(str(pipeline_path()), trust_remote_code=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
