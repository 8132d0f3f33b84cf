"""Which writing system a character belongs to, read from the Unicode character database.

The script is the first word of the character's Unicode name ("CYRILLIC SMALL LETTER A" →
``CYRILLIC``), with the few naming families that span one script merged (ideographs, kana
marks). Characters that belong to no script (digits, punctuation, modifier letters) are
``COMMON``.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

COMMON = "COMMON"
LATIN = "LATIN"
# Scripts written without spaces between words (or, for Hangul, with particles glued to
# names): a name is found inside a run of such characters, one character per token.
UNSPACED = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN", "YI"})
# Scripts whose combining marks are optional diacritics (accents, tonos, niqqud, harakat):
# folded away like Latin accents. Elsewhere (Devanagari, Thai, …) marks are letters' vowels.
OPTIONAL_MARKS = frozenset({LATIN, "CYRILLIC", "GREEK", "HEBREW", "ARABIC", "ARMENIAN", "GEORGIAN"})
_FAMILIES = {
    "IDEOGRAPHIC": "CJK",
    "KANGXI": "CJK",
    "KATAKANA-HIRAGANA": "KATAKANA",
    "HALFWIDTH": None,  # resolved after NFKC
    "FULLWIDTH": None,
}


@lru_cache(maxsize=65536)
def script_of(ch: str) -> str:
    """The script of one character, or ``COMMON`` for digits, punctuation and symbols."""
    if ch.isascii():
        return LATIN if ch.isalpha() else COMMON
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch and len(folded) == 1:
        return script_of(folded)
    if not (ch.isalpha() or unicodedata.category(ch).startswith("M")):
        return COMMON
    try:
        first = unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return COMMON
    if first in _FAMILIES:
        return _FAMILIES[first] or COMMON
    if first in ("MODIFIER", "COMBINING"):
        return COMMON
    return first


def is_unspaced(script: str) -> bool:
    return script in UNSPACED


def scripts_in(text: str) -> frozenset[str]:
    """The scripts of the letters of ``text`` (``COMMON`` left out)."""
    return frozenset(s for s in map(script_of, text) if s != COMMON)
