"""How common an English word is, for telling names apart from ordinary words.

The word list is pyspellchecker's English frequency dictionary (MIT licensed, about
160,000 words, shipped inside the package, read offline). Words are stored in the same
key-folded form as prompt tokens (see :func:`stylegate.governance.screening.canonical.fold_key`), so a
token's text can be looked up directly.

Two questions are asked of it:

- :func:`is_word`: is the token an English word at all? A fuzzy (misspelling) match needs at
  least one token that is *not* a word, so "banks" never reads as a misspelt "Banksy", and a
  one-word name split by spaces into real words ("quill feather") is prose, not a name.
- :func:`is_common`: is the word common (frequency at or above :data:`COMMON_FREQUENCY`)? A
  surname alone counts as a name only when it is not common ("Stalenhag" yes, "Baker" no).

Without the package every token counts as a common word: matching falls back to exact names,
reversed names and possessives, and a warning is logged once.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from stylegate.governance.screening.canonical import fold_key

log = logging.getLogger(__name__)

# Frequencies are counts in pyspellchecker's list: "the" ≈ 76 million, "parchment" 1,312,
# "turner" 500, "picasso" 112, "monet" 59; the list's floor is 50 (dictionary-only words).
# At or above this a word is common: "Turner", "Baker", "Hill" are not distinctive surnames,
# while "Monet", "Picasso", "Klimt" are.
COMMON_FREQUENCY = 150


class _Everything(dict):
    """Stand-in frequency table used when no word list is available: every word is common."""

    def get(self, key: str, default: int = 0) -> int:  # type: ignore[override]
        return COMMON_FREQUENCY

    def __contains__(self, key: object) -> bool:
        return True


@lru_cache(maxsize=1)
def frequencies() -> dict[str, int]:
    """Key-folded English word → highest frequency among the words that fold to it."""
    try:
        from spellchecker import SpellChecker
    except ImportError:  # pragma: no cover - declared dependency
        log.warning("pyspellchecker is not installed: surname-only and fuzzy name matching are off")
        return _Everything()
    counts = SpellChecker(language="en", distance=1).word_frequency.dictionary
    table: dict[str, int] = {}
    for word, count in counts.items():
        if not (word.isascii() and word.isalpha()):
            continue  # "turner's", "x-ray": tokens never contain these
        key = fold_key(word)
        if count > table.get(key, 0):
            table[key] = int(count)
    log.debug("English word list: %d key-folded words", len(table))
    return table


def frequency(token: str) -> int:
    """Frequency of a key-folded token in the English list (0 when it is not a word)."""
    return frequencies().get(token, 0)


def is_word(token: str) -> bool:
    """Whether a key-folded token is an English word."""
    return token in frequencies()


def is_common(token: str) -> bool:
    """Whether a key-folded token is a common English word."""
    return frequencies().get(token, 0) >= COMMON_FREQUENCY
