"""Invented words for synthetic registries: syllables drawn from a seeded ``random.Random``."""

from __future__ import annotations

import random
from collections.abc import Sequence


def syllable_word(rng: random.Random, syllables: Sequence[str], lo: int = 2, hi: int = 3) -> str:
    """``lo`` to ``hi`` syllables joined and capitalised ("Kazenri")."""
    return "".join(rng.choice(syllables) for _ in range(rng.randint(lo, hi))).capitalize()
