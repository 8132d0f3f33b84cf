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

from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np

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
