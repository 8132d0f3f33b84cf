"""A corpus of ordinary prompts in several languages: the description check's negatives.

Generated deterministically from the templates and word lists in ``ordinary_prompts.toml``
(written for stylegate): every template filled with every combination, then a fixed-seed
sample per language. None names an artist or describes a registered style on purpose, so a
description threshold that flags more than its target share of them accepts too much.
"""

from __future__ import annotations

import math
import sys
from functools import lru_cache
from importlib import resources

import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PER_LANGUAGE = 800
SEED = 20240612


@lru_cache(maxsize=1)
def _lists() -> dict[str, dict[str, list[str]]]:
    text = resources.files("stylegate.governance.screening").joinpath("ordinary_prompts.toml").read_text("utf-8")
    return tomllib.loads(text)


def languages() -> list[str]:
    return list(_lists())


def ordinary_prompts(per_language: int = PER_LANGUAGE, seed: int = SEED,
                     langs: list[str] | None = None) -> list[tuple[str, str]]:
    """``(language, prompt)`` pairs: up to ``per_language`` distinct prompts per language."""
    out: list[tuple[str, str]] = []
    data = _lists()
    for lang in langs or list(data):
        lists = data[lang]
        fields = ("subject", "place", "time", "extra")
        sizes = [len(lists["templates"]), *(len(lists[f]) for f in fields)]
        rng = np.random.default_rng([seed, sorted(data).index(lang)])
        seen: set[str] = set()
        for pick in rng.permutation(math.prod(sizes))[: per_language * 4]:
            t, *idx = np.unravel_index(int(pick), sizes)
            text = lists["templates"][t].format(**{f: lists[f][i] for f, i in zip(fields, idx)})
            if text not in seen:
                seen.add(text)
                out.append((lang, text))
            if len(seen) >= per_language:
                break
    return out
