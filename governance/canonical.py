"""Prompt canonicalisation that keeps a map back to the original characters.

Each original character becomes zero or more canonical characters: default-ignorable
characters vanish, compatibility forms (full-width, mathematical alphanumerics, ligatures)
fold through NFKC, cross-script homoglyphs fold to Latin through the Unicode confusables
data, diacritics are stripped, case is folded. Tokens are then split on separators and
camelCase boundaries, and leetspeak is read inside tokens that contain letters. Every
token remembers the span of the original text it came from, so a steer can cut a name
out of the prompt the user typed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Letters that have no decomposition but an obvious Latin reading.
_SPECIAL_FOLDS = {
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i",
    "þ": "th", "ŀ": "l", "ħ": "h", "ŧ": "t", "ĸ": "k", "ꭓ": "x",
}
# Characters read as letters when they sit inside a word ("s1m0n", "$imon").
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i", "|": "i", "+": "t"}
_LEET_SYMBOLS = frozenset("@$!|+")
# Of those, these still read as letters at the end of a word ("Mir@", "Kornblum$"); "!", "|"
# and "+" there are punctuation.
_LEET_TAIL = frozenset("@$")
# After leetspeak, ambiguous shapes share one letter in match keys ("A1ice" = "Alice").
_KEY_FOLD = str.maketrans({"l": "i"})

_EXTRA_IGNORABLE = frozenset(
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFFA0]
)


def is_ignorable(ch: str) -> bool:
    """Default-ignorable code points (zero-width, joiners, bidi controls, variation selectors)."""
    cp = ord(ch)
    if cp in _EXTRA_IGNORABLE:
        return True
    if 0x200B <= cp <= 0x200F or 0x202A <= cp <= 0x202E or 0x2060 <= cp <= 0x206F:
        return True
    if 0xFE00 <= cp <= 0xFE0F or 0xE0000 <= cp <= 0xE0FFF or cp == 0xFEFF:
        return True
    return unicodedata.category(ch) == "Cf"


def _latin_reading(ch: str) -> str:
    """Diacritics stripped and special letters read as Latin ("ö" → "o", "ł" → "l", "ĸ" → "k")."""
    stripped = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return "".join(_SPECIAL_FOLDS.get(c, c) for c in stripped.casefold())


@lru_cache(maxsize=65536)
def _latin_homoglyph(ch: str) -> str | None:
    """The ASCII look-alike of ``ch`` in the Unicode confusables data (UTS #39), or None.

    An ASCII letter is preferred to a digit; when the data offers only non-ASCII Latin
    look-alikes (Greek kappa → Latin kra), their Latin reading is used.
    """
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(ch, greedy=True)
    if not found:
        return None
    digit = None
    readings = []
    for glyph in found[0]["homoglyphs"]:
        candidate = glyph["c"]
        if len(candidate) != 1:
            continue
        if candidate.isascii():
            if candidate.isalpha():
                return candidate
            if candidate.isdigit() and digit is None:
                digit = candidate
        else:
            reading = _latin_reading(candidate)
            if len(reading) == 1 and reading.isascii() and reading.isalpha():
                readings.append(reading)
    return digit or (readings[0] if readings else None)


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """Canonical form of one character (possibly empty, possibly several characters)."""
    if ch.isascii():
        return ch.lower()
    if is_ignorable(ch):
        return ""
    if unicodedata.combining(ch):
        return ""
    look_alike = _latin_homoglyph(ch)  # before NFKC, which turns some look-alikes (ϲ) into others (ς)
    if look_alike is not None:
        return look_alike.lower()
    out = []
    for part in unicodedata.normalize("NFKC", ch):
        if not part.isascii():
            part = _latin_homoglyph(part) or part
        out.append(_latin_reading(part))
    return "".join(out)


@dataclass(frozen=True)
class Token:
    text: str  # canonical, leetspeak read, key-folded
    start: int  # span in the original text
    end: int


_WORD = re.compile(r"[a-z0-9@$!|+]+")


def tokenize(text: str) -> list[Token]:
    """Canonical tokens of ``text`` with their spans in ``text``."""
    chars: list[str] = []
    origin: list[int] = []
    prev_lower = False
    for i, ch in enumerate(text):
        folded = fold_char(ch)
        if not folded:
            continue
        if ch.isupper() and prev_lower:  # camelCase boundary: "SimonStalenhag"
            chars.append(" ")
            origin.append(i)
        prev_lower = ch.islower()
        for c in folded:
            chars.append(c)
            origin.append(i)
    canonical = "".join(chars)
    tokens = []
    for m in _WORD.finditer(canonical):
        raw = m.group()
        raw_start = m.start()
        # Symbols count as letters only inside a word: trim them from the end (but "@" and "$"
        # after letters), and from the start unless letters follow ("$imon", "$1m0n").
        while raw and raw[-1] in _LEET_SYMBOLS and not (raw[-1] in _LEET_TAIL and any(c.isalpha() for c in raw)):
            raw = raw[:-1]
        while raw and raw[0] in _LEET_SYMBOLS and not any(c.isalpha() for c in raw[1:]):
            raw, raw_start = raw[1:], raw_start + 1
        if not raw:
            continue
        if any(c.isalpha() for c in raw):
            word = "".join(_LEET.get(c, c) for c in raw)
        else:
            word = raw
        tokens.append(Token(word.translate(_KEY_FOLD), origin[raw_start], origin[raw_start + len(raw) - 1] + 1))
    return tokens


def fold_key(word: str) -> str:
    """Key-fold a canonical lower-case word: ambiguous shapes share one letter ("l" reads "i")."""
    return word.translate(_KEY_FOLD)


def name_key(name: str) -> tuple[str, ...]:
    """The canonical token sequence of a registered name or alias."""
    return tuple(t.text for t in tokenize(name))
