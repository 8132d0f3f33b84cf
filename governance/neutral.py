"""The description check's neutral baseline.

A CLIP text vector for a prompt that describes no style still has a sizeable cosine with
every artist's prototype: all images share a common direction, and ordinary words land near
it. Scoring a prompt against an artist by raw cosine therefore flags plain requests. The
description score is measured against a baseline instead: the prompt's cosine with the
artist's prototypes minus its cosine with the *neutral anchor*, the normalised mean text
vector of a bundled list of ordinary prompts (``neutral_prompts.txt``). A neutral prompt
scores about zero or below for everyone; a style description scores high for its artist.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EmbedTexts = Callable[[Sequence[str]], np.ndarray]


def neutral_prompts() -> list[str]:
    text = resources.files("stylegate.governance").joinpath("neutral_prompts.txt").read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def neutral_anchor(embed_texts: EmbedTexts, prompts: Sequence[str] | None = None) -> np.ndarray:
    """The unit-length mean text vector of the neutral prompts."""
    vectors = np.asarray(embed_texts(list(prompts or neutral_prompts())), dtype=np.float32)
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        raise ValueError("neutral prompts embed to a zero mean vector")
    return (mean / norm).astype(np.float32)


def cached_neutral_anchor(embed_texts: EmbedTexts, identity: dict[str, Any], cache_dir: Path) -> np.ndarray:
    """:func:`neutral_anchor`, kept in ``cache_dir`` under a key of the embedder's identity and
    the prompts, so a one-shot check does not embed the prompt list again."""
    prompts = neutral_prompts()
    key = hashlib.sha256(json.dumps([identity, prompts]).encode()).hexdigest()[:24]
    path = cache_dir / f"neutral-{key}.npy"
    dim = int(identity["dim"])
    if path.exists():
        try:
            anchor = np.load(path)
            if anchor.shape == (dim,) and anchor.dtype == np.float32 and abs(float(np.linalg.norm(anchor)) - 1.0) < 1e-4:
                return anchor
            log.warning("ignoring the neutral anchor cache %s: not a unit vector of dim %d", path, dim)
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable neutral anchor cache %s: %s", path, exc)
    anchor = neutral_anchor(embed_texts, prompts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, anchor)
    os.replace(tmp, path)
    return anchor
