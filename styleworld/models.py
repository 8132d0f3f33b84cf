"""Where the shipped StyleWorld models live and how to load them.

Heavy libraries (torch, open_clip, diffusers) are imported inside functions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CLIP_MODEL_NAME = "styleworld-clip"

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"
CLIP_CONFIG_PATH = PACKAGE_DIR / f"{CLIP_MODEL_NAME}.json"
CLIP_CHECKPOINT_NAME = f"{CLIP_MODEL_NAME}.safetensors"
PIPELINE_DIR_NAME = "styleworld-pipeline"
MANIFEST_PATH = WEIGHTS_DIR / "MANIFEST.json"


def register_clip() -> str:
    """Register the ``styleworld-clip`` open_clip model config (idempotent); return its name."""
    import open_clip

    if CLIP_MODEL_NAME not in open_clip.list_models():
        open_clip.add_model_config(CLIP_CONFIG_PATH)
    return CLIP_MODEL_NAME


def clip_checkpoint_path() -> Path:
    """Path of the shipped tiny CLIP checkpoint (safetensors)."""
    return WEIGHTS_DIR / CLIP_CHECKPOINT_NAME


def pipeline_path() -> Path:
    """Folder of the shipped StyleWorld diffusers pipeline."""
    return WEIGHTS_DIR / PIPELINE_DIR_NAME


def load_clip(device: str = "cpu") -> tuple[Any, Any, Any]:
    """Load the shipped tiny CLIP: ``(model, preprocess, tokenizer)``, model in eval mode.

    Equivalent to ``open_clip.create_model_and_transforms("styleworld-clip",
    pretrained=str(clip_checkpoint_path()))`` after :func:`register_clip`.
    """
    import open_clip

    name = register_clip()
    model, _, preprocess = open_clip.create_model_and_transforms(
        name, pretrained=str(clip_checkpoint_path()), device=device
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
