"""Prompt canonicalisation that keeps a map back to the original characters.

Each word is read in one of three ways, decided by the scripts of its letters:

- a Latin word, or a word that mixes scripts (a Latin word with a Cyrillic "а" inside,
  "Мірα" with Cyrillic, Latin and Greek letters) is *folded*: default-ignorable characters
  vanish, compatibility forms (full-width, mathematical alphanumerics, ligatures) fold
  through NFKC, cross-script homoglyphs fold to Latin through the Unicode confusables data,
  diacritics are stripped, case is folded; tokens are split on separators and camelCase
  boundaries, and leetspeak is read inside tokens that contain letters;
- a word written honestly in one other script ("Кувшинова", "Γιάννης", "محمود") stays in
  that script: NFKC, case folded, optional diacritics (accents, tonos, harakat) dropped;
- characters of scripts written without spaces (Han, kana, Hangul, Thai, …) are one token
  each, so a name is found inside a run of text ("宮崎駿風の森").

:func:`latin_tokens` adds the Latin transliteration of the non-Latin tokens (anyascii) and
:func:`skeleton_tokens` the old every-letter-to-Latin reading, so look-alike words made only
of non-Latin letters are still read as the Latin word they imitate. Every token remembers
the span of the original text it came from, so a steer can cut a name out of the prompt.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from stylegate.governance.screening.scripts import COMMON, LATIN, OPTIONAL_MARKS, is_unspaced, script_of

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
    script: str = "LATIN"  # LATIN for folded tokens, else the script it was written in


_WORD = re.compile(r"[a-z0-9@$!|+]+")


_PLAIN = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")
_PLAIN_WORD = re.compile(r"[A-Za-z]+")
_CAMEL = re.compile(r"[a-z][A-Z]")


def skeleton_tokens(text: str) -> list[Token]:
    """Every letter read as its Latin look-alike: the folded reading of the whole of ``text``.

    No token rule looks across an ASCII space (it folds to itself, matches no token
    character and ends a camelCase run), so each space-separated chunk is read on its own,
    once per process for the chunks prompts repeat (:func:`_chunk_tokens`).
    """
    if _PLAIN.fullmatch(text) and not _CAMEL.search(text):  # the common case, read the fast way
        return [Token(m.group().lower().translate(_KEY_FOLD), m.start(), m.end()) for m in _PLAIN_WORD.finditer(text)]
    out: list[Token] = []
    at = 0
    for chunk in text.split(" "):
        if chunk:
            for word, start, end in _chunk_tokens(chunk):
                out.append(Token(word, at + start, at + end))
        at += len(chunk) + 1
    return out


@lru_cache(maxsize=65536)
def _chunk_tokens(text: str) -> tuple[tuple[str, int, int], ...]:
    """The folded tokens of one chunk without spaces: (text, start, end) within the chunk."""
    if _PLAIN_WORD.fullmatch(text) and not _CAMEL.search(text):
        return ((text.lower().translate(_KEY_FOLD), 0, len(text)),)
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
        tokens.append((word.translate(_KEY_FOLD), origin[raw_start], origin[raw_start + len(raw) - 1] + 1))
    return tuple(tokens)


def forget_chunks() -> None:
    """Empty the caches of tokenised chunks (a benchmark's cold start; results do not change)."""
    _chunk_tokens.cache_clear()
    _tokenize_chunk.cache_clear()


def plain_word_key(word: str) -> str | None:
    """The one token of a plain word (ASCII letters only, no camelCase), else None.

    :func:`tokenize` reads such a word as exactly this token; a registry build takes this
    shortcut for most words of most names.
    """
    if word.isascii() and word.isalpha() and not _CAMEL.search(word):
        return word.lower().translate(_KEY_FOLD)
    return None


def fold_key(word: str) -> str:
    """Key-fold a canonical lower-case word: ambiguous shapes share one letter ("l" reads "i")."""
    return word.translate(_KEY_FOLD)


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _in_word(ch: str) -> bool:
    return ch.isalnum() or _is_mark(ch) or is_ignorable(ch) or (
        ch in _LEET_SYMBOLS
    ) or unicodedata.normalize("NFKC", ch).isalnum()


@lru_cache(maxsize=65536)
def _native_char(ch: str, script: str) -> str:
    """One character of a word kept in its own script: NFKC, case folded, optional marks dropped."""
    if is_ignorable(ch):
        return ""
    out = unicodedata.normalize("NFKC", ch).casefold()
    if script in OPTIONAL_MARKS:
        out = "".join(c for c in unicodedata.normalize("NFD", out) if not unicodedata.combining(c))
        out = unicodedata.normalize("NFC", out)
    return out


def tokenize(text: str) -> list[Token]:
    """Canonical tokens of ``text`` with their spans in ``text`` (see the module doc).

    Like :func:`skeleton_tokens`, read one space-separated chunk at a time (no rule looks
    across an ASCII space: it is no word character and is masked as itself), each chunk
    once per process for the chunks prompts repeat.
    """
    if text.isascii():
        return skeleton_tokens(text)
    out: list[Token] = []
    at = 0
    for chunk in text.split(" "):
        if chunk:
            if chunk.isascii():
                for word, start, end in _chunk_tokens(chunk):
                    out.append(Token(word, at + start, at + end))
            else:
                for word, start, end, script in _tokenize_chunk(chunk):
                    out.append(Token(word, at + start, at + end, script))
        at += len(chunk) + 1
    return out


@lru_cache(maxsize=65536)
def _tokenize_chunk(text: str) -> tuple[tuple[str, int, int, str], ...]:
    """:func:`tokenize` of one chunk without ASCII spaces: (text, start, end, script) in it."""
    scripts = [script_of(ch) for ch in text]
    native: list[Token] = []
    masked = list(text)  # folded words stay; native and unspaced characters become spaces
    i, n = 0, len(text)
    while i < n:
        if not _in_word(text[i]):
            i += 1
            continue
        j = i
        while j < n and _in_word(text[j]):
            j += 1
        spaced_scripts = {s for s in scripts[i:j] if s != COMMON and not is_unspaced(s)}
        own = next(iter(spaced_scripts)) if len(spaced_scripts) == 1 and LATIN not in spaced_scripts else None
        k = i
        while k < j:
            script = scripts[k]
            if is_unspaced(script):  # one token per character, with the marks that follow it
                end = k + 1
                while end < j and _is_mark(text[end]):
                    end += 1
                piece = "".join(_native_char(c, script) for c in text[k:end])
                if piece:
                    native.append(Token(piece, k, end, script))
                masked[k:end] = " " * (end - k)
                k = end
                continue
            if own is None:  # a Latin or mixed-script stretch: folded
                k += 1
                continue
            end = k
            while end < j and not is_unspaced(scripts[end]):
                end += 1
            piece = "".join(_native_char(c, own) for c in text[k:end])
            if piece:
                first = next(p for p in range(k, end) if not is_ignorable(text[p]))
                last = max(p for p in range(k, end) if not is_ignorable(text[p]))
                native.append(Token(piece, first, last + 1, own))
            masked[k:end] = " " * (end - k)
            k = end
        i = j
    folded = skeleton_tokens("".join(masked)) if any(not c.isspace() for c in masked) else []
    return tuple((t.text, t.start, t.end, t.script) for t in sorted(folded + native, key=lambda t: t.start))


@lru_cache(maxsize=65536)
def _latin_reading_of(text: str) -> tuple[str, ...]:
    from anyascii import anyascii

    latin = anyascii(text).replace("'", "").replace("`", "").lower()
    return tuple(t.text for t in skeleton_tokens(latin))


def latin_tokens(tokens: list[Token]) -> list[Token]:
    """``tokens`` with each non-Latin token replaced by its Latin transliteration (anyascii).

    The new tokens keep the script of the text they were read from (so the matcher still
    knows that "gong qi jun" were three glued Han characters).
    """
    out: list[Token] = []
    for token in tokens:
        if token.script == LATIN:
            out.append(token)
            continue
        for part in _latin_reading_of(token.text):  # keeps the script it was written in
            out.append(Token(part, token.start, token.end, token.script))
    return out


@lru_cache(maxsize=65536)
def _cyrillic_reading_of(text: str) -> tuple[str, ...]:
    import cyrtranslit
    from anyascii import anyascii

    latin = anyascii(cyrtranslit.to_latin(text, "ru")).replace("'", "").replace("`", "").lower()
    return tuple(t.text for t in skeleton_tokens(latin))


def other_latin_tokens(tokens: list[Token]) -> list[Token] | None:
    """A second Latin reading where a prompt has Cyrillic words, or None.

    anyascii reads "х" as "kh" and "й" as "y"; English and German spellings of Russian names
    often write "h" and "j" ("Хоппер" is Hopper, not Khopper). cyrtranslit's Russian table
    gives that reading; the matcher screens it beside anyascii's.
    """
    if not any(t.script == "CYRILLIC" for t in tokens):
        return None
    out: list[Token] = []
    for token in tokens:
        if token.script != "CYRILLIC":
            out.extend(latin_tokens([token]))
            continue
        for part in _cyrillic_reading_of(token.text):
            out.append(Token(part, token.start, token.end, token.script))
    first = latin_tokens(tokens)
    return None if [t.text for t in out] == [t.text for t in first] else out


def look_alike_tokens(tokens: list[Token], text: str) -> list[Token]:
    """``tokens`` with each non-Latin word made only of Latin look-alikes read as Latin.

    "Моnet" mixes scripts and is folded anyway; a word of Cyrillic letters only that imitates
    a Latin word ("Васкег"-style whole-script look-alikes) is read here as that Latin word.
    Returns ``tokens`` itself when no token is such a word.
    """
    out: list[Token] = []
    changed = False
    for token in tokens:
        if token.script != LATIN and not is_unspaced(token.script):
            letters = [fold_char(c) for c in text[token.start : token.end] if not is_ignorable(c)]
            if letters and all(len(c) == 1 and c.isascii() and c.isalpha() for c in letters):
                out.append(Token(fold_key("".join(letters)), token.start, token.end, LATIN))
                changed = True
                continue
        out.append(token)
    return out if changed else tokens


def name_tokens(name: str) -> list[Token]:
    """Tokens of a registered name: adjacent characters of an unspaced script form one token."""
    merged: list[Token] = []
    for token in tokenize(name):
        prev = merged[-1] if merged else None
        if prev is not None and is_unspaced(token.script) and is_unspaced(prev.script) and prev.end == token.start:
            merged[-1] = Token(prev.text + token.text, prev.start, token.end, prev.script)
        else:
            merged.append(token)
    return merged


@lru_cache(maxsize=4096)
def canonical_word(word: str) -> str:
    """One dictionary word in token form (fast path for word lists; no leetspeak or splitting)."""
    if word.isascii():
        return fold_key(word.lower()) if word.isalpha() else ""
    scripts = {script_of(c) for c in word} - {COMMON}
    if len(scripts) != 1:
        return ""
    (script,) = scripts
    if script == LATIN:
        folded = "".join(fold_char(c) for c in word)
        return fold_key(folded) if folded.isascii() and folded.isalpha() else ""
    return "".join(_native_char(c, script) for c in word)


def name_key(name: str) -> tuple[str, ...]:
    """The canonical token sequence of a registered name or alias (in the script it is written in)."""
    return tuple(t.text for t in name_tokens(name))


def latin_key(name: str) -> tuple[str, ...]:
    """The Latin transliteration key of a name (equal to :func:`name_key` for Latin names)."""
    return tuple(t.text for t in latin_tokens(name_tokens(name)))
