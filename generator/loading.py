"""Loading a diffusers text-to-image pipeline: the bundled StyleWorld one, a local folder or a hub id."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from stylegate.errors import InputError, ModelLoadError

log = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "float16", "bfloat16")


def load_text_to_image(model: str | None = None, *, device: str = "cpu", dtype: str = "auto") -> Any:
    """Load ``model`` (None: the bundled StyleWorld pipeline) on ``device``.

    A local folder or a hub id goes through ``DiffusionPipeline.from_pretrained``. A hub id
    is fetched by the user's own environment; offline, a clear message says so instead of a
    traceback.
    """
    import torch
    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    except ImportError:  # transformers is optional; only its loading bar is silenced here
        pass
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    torch_dtype = None if dtype == "auto" else getattr(torch, dtype)
    if model is None:
        from stylegate.styleworld.models import load_pipeline

        try:
            return load_pipeline(device)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load the bundled StyleWorld pipeline: {exc}") from exc
    local = check_model_ref(model)
    kwargs: dict[str, Any] = {} if torch_dtype is None else {"torch_dtype": torch_dtype}
    try:
        if local.exists():
            if not (local / "model_index.json").is_file():
                raise InputError(f"--model {local}: not a diffusers pipeline folder (no model_index.json)")
            pipe = DiffusionPipeline.from_pretrained(str(local), **kwargs)
        else:
            pipe = DiffusionPipeline.from_pretrained(model, **kwargs)
    except (ModelLoadError, InputError):
        raise
    except Exception as exc:  # diffusers/huggingface_hub raise many kinds; all mean "cannot load"
        text = str(exc)
        if not local.exists():
            raise ModelLoadError(
                f"cannot load pipeline {model!r} from the model hub: {text.splitlines()[0] if text else type(exc).__name__}. "
                "Without network access, download it where you can and pass its local folder to --model."
            ) from exc
        raise ModelLoadError(f"cannot load pipeline from {local}: {text}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def looks_like_path(model: str) -> bool:
    """A filesystem path rather than a hub id ("org/name"): absolute, relative with dots, or ~."""
    return model.startswith(("/", "./", "../", "~", ".\\")) or model in (".", "..") or "\\" in model


def check_model_ref(model: str) -> Path:
    """Refuse a --model that names a local path but no pipeline folder (before any loading)."""
    local = Path(model).expanduser()
    if local.exists():
        if not (local / "model_index.json").is_file():
            raise InputError(f"--model {local}: not a diffusers pipeline folder (no model_index.json)")
    elif looks_like_path(model):
        raise InputError(f"--model {model}: no such pipeline folder")
    return local
