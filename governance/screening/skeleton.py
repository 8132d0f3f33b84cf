"""Cross-script matching on a phonetic consonant skeleton (rule ``skeleton``).

A Latin name written in another script loses what that script cannot write: Japanese and
Korean have one sound for "l" and "r" and put a vowel after every consonant ("Romero
Britto" is 로메로 브리토, "lo-me-lo beu-li-to"); Hebrew and Arabic drop most vowels and
merge b/p, v/w/f ("Shirin Neshat" is שירין נשאט, "syryn ns't"); Korean merges voicing
(k/g, t/d, p/b); every script has its own spelling of "sh", "ch", "ts". Read back
through anyascii, such a word keeps the *consonant classes* of the name, so both sides are
reduced to a skeleton of classes:

    P  b p f v w(not before a vowel) ph    T  t d th dh       K  k g q c(hard) kh gh ck x=KS
    S  s z c(soft) j sh ch zh ts tz sch     R  r l              M  m     N  n

Vowels, "h", "y" and glides are dropped, repeats collapse within a word, and a word that
starts with a vowel (or an alef/ayin) starts with ``V``. A few letters are read the way
names are written in their script before anyascii: Arabic ث and ذ as "s" and "z" (their
Persian, Turkish and Urdu reading), a medial Arabic و or Hebrew ו as a vowel and a medial
Arabic ا as "a".

The rule is bounded so that short skeletons do not match everything:

- it compares the **whole name**: the joined skeleton of a window of adjacent words
  (separated by spaces, middle dots or hyphens only), in the name's order or reversed
  (surname first, as the exact rule also accepts), with at most one edit on skeletons of
  :data:`ONE_EDIT_LEN` or more symbols and none below;
- a name is indexed only when it has two or more words and a skeleton of
  :data:`MIN_NAME_LEN` or more symbols, or one word of :data:`MIN_SINGLE_LEN` or more; a
  one-word name of :data:`MIN_SPELT_SINGLE_LEN` symbols, or a name of words of
  :data:`MIN_DOTTED_NAME_LEN`, is indexed too but matches only with the same skeleton and
  its letters spelt out (the short name of words only when a middle dot joins them, "マン・レイ");
- prompt words of a non-Latin script (not Han ideographs, whose reading depends on the
  language) are compared with names registered in Latin or another script; Latin prompt
  words are compared only with names registered in a non-Latin script ("Ilja Kuwschinow"
  against "Илья Кувшинов"), and only windows of two or more uncommon words;
- a hit below :data:`STANDS_ALONE_LEN` symbols stands only next to a style cue (see
  ``names._explain``);
- a window whose skeleton (with its one-edit neighbourhood) is shared by more than
  :data:`MAX_CANDIDATES` registered names matches none: in a large registry a short
  skeleton says nothing about whose name it is, and verifying them all would cost.

The skeleton alphabet has eight symbols, so up to :data:`MAX_SKELETON_LEN` of them pack exactly into
one int64, four bits each: no hashing. Each name's packed skeleton and its one-deletion
neighbourhood sit in a sorted array beside the label id (:class:`SkeletonCodes`, twelve
bytes a code); a prompt window probes its own neighbourhood with one ``searchsorted``, so
one substitution, insertion or deletion is found. Candidates are verified with the
Levenshtein distance, and a removed label (its text gone from the matcher) is skipped.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from stylegate.governance.screening import cues, frequency, inflection, language, lexicon
from stylegate.governance.screening.canonical import Token, canonical_word
from stylegate.governance.screening.scripts import COMMON, LATIN, UNSPACED, script_of

log = logging.getLogger(__name__)

MIN_NAME_LEN = 4  # skeleton symbols of a multi-word name before it is indexed
MIN_SINGLE_LEN = 7  # skeleton symbols of a one-word name before it matches with an edit or unspelt
MIN_SPELT_SINGLE_LEN = 6  # a one-word name this long is indexed; below MIN_SINGLE_LEN it matches exactly, spelt out
MIN_DOTTED_NAME_LEN = 3  # a multi-word name this long matches only written with a middle dot (マン・レイ), spelt out
MIN_MONONYM_LEN = 2  # a one-word name this short matches alone only spelt out in an alphabet, next to a cue
MIN_MONONYM_LETTERS = 90  # letter ratio (as they sound) of a one-word name shorter than MIN_SURNAME_LEN
_DOTS = frozenset("・·‧･")
ONE_EDIT_LEN = 6  # skeletons this long match with one edit, shorter ones only exactly
STANDS_ALONE_LEN = 6  # shorter skeleton hits need a style cue
MAX_WORDS = 4  # words in a window (names of more words are left to the other rules)
SKELETON_SCORE = 0.8
MAX_CANDIDATES = 16  # a window whose skeleton neighbourhood holds more names matches none of them
MIN_SURNAME_LEN = 3  # skeleton symbols of a surname matched alone in another script (with a style cue)
SHORT_SURNAME_LEN = 5  # a lone surname of fewer symbols needs its letters to agree more closely
MIN_MISSPELT_LETTERS = 7  # letters of a Latin word read as a misspelt surname alone (next to a cue)
MIN_SHORT_SURNAME_LETTERS = 75  # letter ratio (as they sound) of such a short lone surname
MAX_SURNAME_CANDIDATES = 4  # a surname skeleton filed under more registered names (labels) matches none of them
MIN_READING_AGREEMENT = 50  # rapidfuzz ratio of a window's romanised letters to the name's (any skeleton hit)
# The letters as they sound (phonetic_letters) count only when they agree this well: the
# consonant classes already agree, so this ratio mostly weighs the vowels.
MIN_HEARD_AGREEMENT = 75
MIN_SPELT_SURNAME_LEN = 4  # skeleton symbols of a lone surname in an alphabet that stands without a cue, spelt out
MIN_SURNAME_LETTERS = 65  # rapidfuzz ratio of a lone surname's romanised letters to the name's
_ABJADS = frozenset({"ARABIC", "HEBREW"})
# Alphabets that write every vowel as a letter: a short skeleton spelt out in one stands alone.
# (Kana and Hangul give every consonant a vowel, so a short name there still needs a cue.)
_ALPHABETS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "GEORGIAN"})  # scripts that drop vowels: a lone surname there says too little
MIN_EDITED_WORD = 5  # an edit in a word of fewer symbols than this stands only next to a style cue

# Han ideographs (the Latin reading depends on the language) and scripts written without
# spaces, where a run of letters is many words (Thai, Lao, Khmer, …); kana and Hangul stay.
_EXCLUDED = UNSPACED - {"KATAKANA", "HIRAGANA", "HANGUL"}
_UNSPACED_KEPT = frozenset({"KATAKANA", "HIRAGANA"})  # one run may hold a whole name ("ミヤザキハヤオ")
# (Hangul writes a hyphenated given name as one word: "Jean-Michel" is 장미셸.)
# Thai writes a foreign name's words apart from the sentence ("แบบ นอร์แมน ร็อกเวลล์"): a
# spaced Thai word is read in prompts; a Thai label is left to the exact rules.
_PROMPT_EXCLUDED = _EXCLUDED - {"THAI"}
_SEPARATORS = frozenset(" \t・·‧･゠=-‐")
_VOWELS = frozenset("aeiou")
# Context first (regex, C speed): a soft c is "s", a "j" after a consonant and a "w" before a
# vowel are glides; then digraphs become one stand-in letter, then letters become classes.
_SOFT_C = re.compile(r"c(?=[eiy])")
_GLIDE_J = re.compile(r"(?<=[b-df-hj-np-tv-z])j")
_GLIDE_W = re.compile(r"w(?=[aeiou])")
_GLIDE_J_ANY = re.compile(r"j")
_DIGRAPHS = re.compile(r"tsch|dzh|sch|tch|ch|sh|zh|ts|tz|cz|sz|dz|ph|kh|gh|th|dh|ck|qu|x")
_DIGRAPH_LETTER = {
    "tsch": "s", "dzh": "s", "sch": "s", "tch": "s", "ch": "s", "sh": "s", "zh": "s", "ts": "s", "tz": "s",
    "cz": "s", "sz": "s", "dz": "s", "ph": "f", "kh": "k", "gh": "k", "th": "t", "dh": "d", "ck": "k",
    "qu": "k", "x": "ks",
}
# Consonant classes, shared by the skeleton (vowels dropped) and the spoken letters (vowels kept).
_CONSONANT_CLASS = {"b": "P", "p": "P", "f": "P", "v": "P", "w": "P", "t": "T", "d": "T", "k": "K", "g": "K",
                    "q": "K", "c": "K", "s": "S", "z": "S", "j": "S", "r": "R", "l": "R", "m": "M", "n": "N"}
_CLASS_OF = str.maketrans({**{c: None for c in "aeiouhy"}, **_CONSONANT_CLASS})
# Read before anyascii: Arabic ث ذ ظ as in Persian, Turkish and Urdu names.
_ARABIC_PRE = str.maketrans({"ث": "س", "ذ": "ز", "ظ": "ز"})
_LATIN_PRE = str.maketrans({"č": "ch", "Č": "Ch", "ć": "ch", "Ć": "Ch", "š": "sh", "Š": "Sh", "ś": "sh", "Ś": "Sh",
                            "ž": "zh", "Ž": "Zh", "ź": "zh", "Ź": "Zh", "ż": "zh", "Ż": "Zh"})
_REPEAT = re.compile(r"(.)\1+")
_PHONETIC_OF = str.maketrans({"a": "a", "e": "i", "i": "i", "y": "i", "o": "o", "u": "u", "h": None, **_CONSONANT_CLASS})
# Modern Greek: stops written as nasal + stop at the start of a word, and the vowel digraphs.
_GREEK_STOP = {"μπ": "b", "ντ": "d", "γκ": "g"}  # Latin letters: anyascii passes them through
_GREEK_INITIAL = re.compile(r"^(?:μπ|ντ|γκ)")
_GREEK_DIGRAPHS = (("ου", "u"), ("αι", "e"), ("ει", "i"), ("οι", "i"), ("γγ", "ng"), ("γκ", "g"))
_KANA_SILENT = frozenset("ーッっ")
_KANA_EPENTHETIC = re.compile(r"(?<=[bcdfghjklmnpqrstvwxz])u(?=[bcdfghjklmnpqrstvwxz]|\b)|(?<=[td])o(?=[bcdfghjklmnpqrstvwxz]|\b)")
_GERESH = frozenset("'׳’")
_ELIDED = re.compile(r"(?<![^\W\d_])([OoDdLl])['’](?=[^\W\d_])")
_HEBREW_GERESH = {"ג": "dzh", "ז": "zh", "צ": "ch", "ת": "th"}
_THAI_PREPOSED = frozenset("เแโใไ")
_THAI_CLUSTER = frozenset("รลว")
_THAI_SILENT = "\u0e4c"  # thanthakhat: the consonant before it is silent
_ITALIAN_GLI = re.compile(r"gli(?=[aeiou])|gli$")
_ITALIAN_GN = re.compile(r"(?<=[aeiou])gn(?=[aeiou])")
_SILENT_H = re.compile(r"h(?=[aeiou])")
_SILENT_END = re.compile(r"[aeiouy](?:s|t|d|x|z|ts|ds)$")
_HARD_CH = re.compile(r"(?<![st])ch")
_CZECH_CH = re.compile(r"(?<=[aeiou])ch(?=[aeiou]|$)")
_SOFT_G = re.compile(r"(?<!g)g(?=[eiy])")
_HUNGARIAN_MARK = re.compile(r"[áéíóöőúüű]")
_HUNGARIAN_DIGRAPH = re.compile(r"cs|sz|zs|gy|ly|s")
_HUNGARIAN_SOUND = {"cs": "ch", "sz": "s", "zs": "zh", "gy": "dy", "ly": "y", "s": "sh"}
# Particles that belong to a surname: "van Gogh" is the surname of "Vincent van Gogh".
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "di", "del", "della", "des", "du", "le", "la",
                        "ten", "ter", "dos", "das", "do", "zu", "af", "al", "el", "bin", "ibn"})
_R_CODA = re.compile(r"(?<=[aeiou])r+(?![aeiouy])")
_V_AS_W = (re.compile(r"v(?=[aeiou])"), "w")
# Russian case endings that add consonants to a surname (vowel endings change no skeleton):
# "Вычулковского" is "Wyczółkowski", "Шагалом" "Chagall"; the stem keeps four letters or more.
_RUSSIAN_CASE = (re.compile(r"(?<=[a-z]{4})(?:ogo|ego|omu|emu|ymi|imi|ami|yami|akh|yakh|ym|im|om|em)(?= |$)"), "")
_MAX_VARIANT_READING = 48  # letters of a window read with its script's conventions (longer: as written only)
# How each script writes sounds of Latin names, read back (see :func:`_variants`).
_CONVENTIONS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "CYRILLIC": ((re.compile(r"kh"), "h"), (re.compile(r"(?<!d)g"), "h"), (re.compile(r"dzh|dj"), "g"),
                 (re.compile(r"sk(?=i)"), "sch"), (re.compile(r"skh"), "sch"), _V_AS_W,
                 (re.compile(r"(?<=[aeiouy])n(?= |$)"), "ng"), _RUSSIAN_CASE),
    "GREEK": ((re.compile(r"ch"), "h"), (re.compile(r"tz"), "g"), (re.compile(r"(?<![a-z])gu(?=[aeio])"), "w"),
              (re.compile(r"(?<=[a-z])mp"), "b"),
              (re.compile(r"(?<=[a-z])nt"), "d"), (re.compile(r"sk(?=i)"), "sch"), _V_AS_W),
    "HEBREW": ((re.compile(r"(?<![a-z])vv"), "u"),),  # an initial וו is a "w" ("וורהול" is Warhol)
    "KATAKANA": (_V_AS_W, (re.compile(r"j"), "g")),
    "HIRAGANA": (_V_AS_W, (re.compile(r"j"), "g")),
    "HANGUL": (_V_AS_W, (re.compile(r"j"), "g"), (re.compile(r"h(?=u)"), "f"),
               (re.compile(r"(?<=[aeo])ng(?![aeiouy])"), "n")),  # a French nasal vowel: "Jean" is 장
}
_SMALL_KANA = frozenset("ァィゥェォャュョぁぃぅぇぉゃゅょ")
_NOT_LETTER = re.compile(r"[^a-z]+")
_NOT_LETTER_OR_SPACE = re.compile(r"[^a-z ]+")
_VOWEL_LETTERS = re.compile(r"[aeiouy]")


@lru_cache(maxsize=1)
def _cue_words() -> frozenset[str]:
    """Every word of the style cues ("в стиле", "بأسلوب", "스타일"): never a part of a name."""
    phrases = cues.STRONG_BEFORE + cues.WEAK_BEFORE + cues.STRONG_AFTER
    return frozenset(w.casefold() for p in phrases for w in p.split())


@lru_cache(maxsize=16384)
def word_skeleton(latin: str) -> str:
    """The consonant-class skeleton of one romanised word (see the module doc)."""
    word = latin.lower()
    start_vowel = bool(word) and (word[0] in _VOWELS or word[0] in "'`")
    word = _NOT_LETTER.sub("", word)
    word = _GLIDE_W.sub("y", _GLIDE_J.sub("y", _SOFT_C.sub("s", word)))
    word = _DIGRAPHS.sub(lambda m: _DIGRAPH_LETTER[m.group()], word)
    skeleton = _REPEAT.sub(r"\1", word.translate(_CLASS_OF))
    return "V" + skeleton if start_vowel else skeleton


@lru_cache(maxsize=16384)
def romanise(word: str, script: str) -> str:
    """A word of ``script`` in Latin letters (anyascii), with the readings of the module doc."""
    if word.isascii():
        return word.lower()
    from anyascii import anyascii

    if script == LATIN:  # Central European carons and acutes are "ch", "sh", "zh" ("Čapek" is "Чапек")
        return anyascii(word.translate(_LATIN_PRE)).lower()
    if script == "ARABIC":
        word = word.translate(_ARABIC_PRE)
        # A medial و is a vowel, a medial ا the long "a" of a foreign name (بيكاسو "bykasu").
        return "".join("u" if (c == "و" and k > 0) else "a" if (c == "ا" and k > 0) else anyascii(c)
                       for k, c in enumerate(word)).lower()
    if script == "GREEK":
        return _greek_reading(word)
    if script in _UNSPACED_KEPT:
        return _kana_reading(word)
    if script == "HANGUL":
        return _hangul_reading(word)
    if script == "HEBREW":
        out = []
        for k, c in enumerate(word):
            if c in _GERESH:
                continue  # read with the letter before it
            if k + 1 < len(word) and word[k + 1] in _GERESH and c in _HEBREW_GERESH:
                out.append(_HEBREW_GERESH[c])  # ג׳ "dzh", ז׳ "zh", צ׳ "ch": the sounds of foreign names
            elif c == "ו" and k > 0 and "ו" not in word[k - 1 : k + 2].replace(c, "", 1):
                out.append("o")  # a single medial vav is a vowel; a doubled one is "v"
            else:
                out.append(anyascii(c))
        return "".join(out).lower()
    if script == "THAI":
        return _thai_reading(word)
    return anyascii(word).lower()


def _thai_reading(word: str) -> str:
    """A Thai word in Latin letters in the order it is spoken: a vowel written before its
    consonant (เ แ โ ใ ไ) is read after it (and after a cluster's ร, ล or ว), a silent "อ"
    carrying such a vowel adds no letter, and a consonant under the cancellation mark ์ is
    not sounded ("นอร์แมน" is "nomaen" for Norman, "โมเนต์" "mone" for Monet)."""
    from anyascii import anyascii

    chars = [c for k, c in enumerate(word) if not (k + 1 < len(word) and word[k + 1] == _THAI_SILENT)
             and not (k + 2 < len(word) and word[k + 2] == _THAI_SILENT and _is_thai_mark(word[k + 1]))]
    out: list[str] = []
    k = 0
    while k < len(chars):
        c = chars[k]
        if c in _THAI_PREPOSED and k + 1 < len(chars) and _is_thai_consonant(chars[k + 1]):
            onset = chars[k + 1]
            k += 2
            if k < len(chars) and chars[k] in _THAI_CLUSTER and (k + 1 == len(chars) or not _is_thai_consonant(chars[k + 1])):
                onset += chars[k]
                k += 1
            out.append("" if onset == "อ" else anyascii(onset))
            out.append(anyascii(c))
            continue
        out.append(anyascii(c))
        k += 1
    return "".join(out).lower()


def _is_thai_consonant(ch: str) -> bool:
    return "\u0e01" <= ch <= "\u0e2e"


def _is_thai_mark(ch: str) -> bool:
    return unicodedata.category(ch) == "Mn"


def _greek_reading(word: str) -> str:
    """A Greek word in Latin letters the way modern Greek sounds: "ου" is "u", "αι" "e", "ει"
    and "οι" "i", and at the start of a word "μπ", "ντ", "γκ" are "b", "d", "g" (medially
    they may still be "mb", "nd", "ng": see :func:`_variants`); "γγ" is "ng"."""
    from anyascii import anyascii

    plain = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))
    plain = plain.replace("ς", "σ")
    plain = _GREEK_INITIAL.sub(lambda m: _GREEK_STOP[m.group()], plain)
    for greek, latin in _GREEK_DIGRAPHS:
        plain = plain.replace(greek, latin)
    return anyascii(plain).lower()


def _kana_reading(word: str) -> str:
    """A kana word in Latin letters, read by the kana spelling rules anyascii leaves out.

    A small vowel or small ya/yu/yo replaces the vowel of the kana before it ("ディ" is "di",
    not "dei"; "シャ" is "sha", not "shiya"), the long-vowel mark and the small tsu of
    gemination add no letter (gemination does not change a consonant skeleton).
    """
    from anyascii import anyascii

    out = ""
    for ch in word:
        if ch in _KANA_SILENT:
            continue
        latin = anyascii(ch).lower()
        if ch in _SMALL_KANA and out and out[-1] in _VOWELS:
            if out[-1] == "u" and (len(out) == 1 or out[-2] in _VOWELS or out[-2] in "-") and not latin.startswith("y"):
                out = out[:-1] + "w" + latin  # ウォ is "wo", ウィ "wi" ("ウォーホル" is Warhol)
                continue
            if latin.startswith("y") and out[-1] == "i":
                out = out[:-1]
                if out[-2:] in ("sh", "ch") or out[-1:] == "j":
                    latin = latin[1:]  # "shi" + "ya" is "sha"
            else:
                out = out[:-1]  # "de" + "i" is "di", "fu" + "a" is "fa"
        out += latin
    return out


def _hangul_reading(word: str) -> str:
    """A Hangul word in Latin letters with the epenthetic vowel of loanwords left out: a
    syllable of "ㅡ" without a final consonant after a consonant ("프" "peu", "스" "seu") is
    the consonant alone ("프랭크" is "praengk" for "Frank"); the syllable structure comes from
    the Unicode Hangul block, the letters from anyascii."""
    from anyascii import anyascii

    out = []
    for ch in word:
        latin = anyascii(ch).lower()
        index = ord(ch) - 0xAC00
        if 0 <= index < 11172 and (index % 588) // 28 == 18 and index % 28 == 0 and latin.endswith("eu") and len(latin) > 2:
            latin = latin[:-2]
        out.append(latin)
    return "".join(out)


@lru_cache(maxsize=16384)
def phonetic_letters(text: str) -> str:
    """Letters as they sound, vowels kept in four classes: for comparing a reading with a name.

    Consonants become their skeleton classes ("w" a "v", its sound outside English), "e i y"
    are one vowel, "au" and "eau" are "o", "ou" is "u", repeats collapse. "paul" and "Поль"
    (pol') are both "PoR", "gauguin" "KoKuiN" and "Гоген" "KoKiN": the letter ratio then sees
    what the ear hears.
    """
    out = []
    for word in _NOT_LETTER_OR_SPACE.sub("", text.lower()).split():
        w = _SOFT_C.sub("s", word)
        w = w.replace("eau", "o").replace("au", "o").replace("ou", "u")
        w = _DIGRAPHS.sub(lambda m: _DIGRAPH_LETTER[m.group()], w)
        w = w.translate(_PHONETIC_OF)
        out.append(_REPEAT.sub(r"\1", w))
    return " ".join(out)


def _label_words(label: str) -> tuple[list[str], str] | None:
    """The words of a label and its script ("LATIN" or the other one), or None to skip it."""
    scripts = {LATIN} if label.isascii() else {script_of(c) for c in label} - {COMMON}
    if not scripts or scripts & _EXCLUDED or len(scripts) > 1:
        return None
    (script,) = scripts
    # An elided prefix is part of its word: "O'Keeffe" is one word, אוקיף.
    words = [w for w in re.split(r"[\s\-‐・·.,'’]+", _ELIDED.sub(r"\1", label)) if w]
    return words, script


@lru_cache(maxsize=4096)
def label_skeletons(label: str) -> tuple[str, tuple[str, ...], int]:
    """(script, the joined skeletons of its orders, words) of a label (cached for verifying)."""
    return _label_skeletons(label)


def _label_skeletons(label: str) -> tuple[str, tuple[str, ...], int]:
    """(script, the joined skeletons of its orders, words) of a label; no skeletons when too short."""
    found = _label_words(label)
    if found is None:
        return "", (), 0
    words, script = found
    parts = [word_skeleton(romanise(w, script)) for w in words]
    parts = [p for p in parts if p]
    if not parts:
        return script, (), 0
    joined = "".join(parts)
    if len(joined) > MAX_SKELETON_LEN or len(parts) > MAX_WORDS:
        return script, (), len(parts)
    if len(parts) == 1:
        return script, ((joined,) if len(joined) >= MIN_SINGLE_LEN else ()), 1
    if len(joined) < MIN_NAME_LEN:
        return script, (), len(parts)
    orders = dict.fromkeys([joined, "".join(reversed(parts))])
    return script, tuple(orders), len(parts)


class Form(NamedTuple):
    """One way a registered name is read: its joined skeleton, the words' skeletons, their count."""

    skeleton: str
    parts: tuple[str, ...]
    words: int


@lru_cache(maxsize=4096)
def label_forms(label: str) -> tuple[str, tuple[Form, ...], tuple[Form, ...]]:
    """(script, the forms of the whole name, the forms of its surname alone) of a label (cached)."""
    return _label_forms(label)


def _label_forms(label: str, cache: dict[tuple[str, str], str] | None = None
                 ) -> tuple[str, tuple[Form, ...], tuple[Form, ...]]:
    """(script, the forms of the whole name, the forms of its surname alone) of a label.

    ``cache`` (a bulk build's: (word, script) → reading, ("", reading) → skeleton) lets the
    build read each distinct word once: registries repeat given names and surnames massively.

    Besides the name's own order and its reversal: for a Latin name, the reading with "j" as
    a glide ("Jan" is "Ян", "Josef" "Йозеф" in Slavic and Nordic names) beside "j" as a
    consonant ("Junji", "Jean"); for a name of three or more words, its first and last word
    ("Mikalojus Čiurlionis" for "Mikalojus Konstantinas Čiurlionis"). The surname form is
    the last word of a Latin multi-word name, of :data:`MIN_SURNAME_LEN` or more symbols,
    matched alone only next to a style cue (see :meth:`SkeletonIndex.find`).
    """
    found = _label_words(label)
    if found is None:
        return "", (), ()
    words, script = found

    def read(word: str) -> str:
        if cache is None:
            return romanise(word, script)
        got = cache.get((word, script))
        if got is None:
            got = cache[word, script] = romanise.__wrapped__(word, script)
        return got

    def skeleton_of(reading: str) -> str:
        if cache is None:
            return word_skeleton(reading)
        got = cache.get(("", reading))
        if got is None:
            got = cache["", reading] = word_skeleton.__wrapped__(reading)
        return got

    readings = [[read(w) for w in words]]
    if script == LATIN and any("j" in w for w in readings[0]):
        readings.append([_GLIDE_J_ANY.sub("y", w) for w in readings[0]])
    if script == LATIN:
        readings.extend(_spoken_readings(readings[0], words))
    # The r-less reading is filed in the name's own order only: a third of Latin names have
    # such a coda, and kana and Hangul write a Western name given name first.
    rless = _r_less(readings[0]) if script == LATIN else None
    in_order = len(readings)
    if rless is not None:
        readings.append(rless)
    names: dict[str, Form] = {}
    surnames: dict[str, Form] = {}
    for k, reading in enumerate(readings):
        parts = [p for p in (skeleton_of(w) for w in reading) if p]
        if not parts or len(parts) > MAX_WORDS:
            continue
        both = k < in_order
        shapes = [parts, parts[::-1]] if len(parts) > 1 and both else [parts]
        if len(parts) >= 3:
            shapes += [[parts[0], parts[-1]], [parts[-1], parts[0]]] if both else [[parts[0], parts[-1]]]
        for shape in shapes:
            joined = "".join(shape)
            if len(joined) > MAX_SKELETON_LEN:
                continue
            if len(shape) == 1 and len(joined) < MIN_SPELT_SINGLE_LEN or len(shape) > 1 and len(joined) < MIN_DOTTED_NAME_LEN:
                continue
            names.setdefault(joined, Form(joined, tuple(shape), len(shape)))
        if script == LATIN and len(parts) > 1 and MIN_MONONYM_LEN <= len(parts[-1]) <= MAX_SKELETON_LEN:
            surnames.setdefault(parts[-1], Form(parts[-1], (parts[-1],), 1))
            if k == 0 and _SILENT_END.search(words[-1].lower()) and len(parts[-1]) > MIN_MONONYM_LEN:
                quiet = parts[-1][:-1]  # a silent final consonant: "Monet" is Моне, モネ
                surnames.setdefault(quiet, Form(quiet, (quiet,), 1))
        if script == LATIN and len(parts) == len(words) and _particle_surname(words) == 2:
            particle = "".join(parts[-2:])  # "van Gogh" alone, next to a cue: two words
            if MIN_SURNAME_LEN <= len(particle) <= MAX_SKELETON_LEN:
                surnames.setdefault(particle, Form(particle, tuple(parts[-2:]), 2))
        elif script == LATIN and len(parts) == 1 and MIN_MONONYM_LEN <= len(parts[0]) <= MAX_SKELETON_LEN:
            surnames.setdefault(parts[0], Form(parts[0], (parts[0],), 1))  # a one-word name alone: "в стиле Тойен"
    return script, tuple(names.values()), tuple(surnames.values())


def _spoken_readings(words: list[str], written: Sequence[str] = ()) -> list[list[str]]:
    """Readings of a Latin name as other scripts write it when its spelling is not its sound.

    Italian "gli" and "gn" are one sound ("Modigliani" is Модильяни, モディリアーニ; "Mignola"
    Миньола) and a word-initial "h" before a vowel is silent in Romance names ("Henri" is
    Анри, Ανρί); "ç" is "ch" in Turkish and Albanian names ("Çallı" is Чаллы) and "s" in French
    ones ("François" is Франсуа). A "ch" (not "sch", "tch") is also a "k" ("Roerich" is Рерих,
    "Nicholas" निकोलस). Only names holding such letters get a reading more (the registry's
    memory grows with forms, so the rule adds none it does not need); the r-less reading of
    English codas is :func:`_r_less`.
    """
    spoken = [_ITALIAN_GLI.sub("li", _ITALIAN_GN.sub("ny", w)) for w in words]
    out = [spoken] if spoken != words else []
    if any("ç" in w.lower() for w in written):  # "ch" in Turkish and Albanian names, "s" in French ones
        for sound in ("ch", "s"):
            out.append([romanise(w.lower().replace("ç", sound), LATIN) for w in written])
    unsounded = [w[1:] if _SILENT_H.match(w) else w for w in spoken]
    if unsounded != spoken:
        out.append(unsounded)
    hard = [_HARD_CH.sub("kh", w) for w in words]
    if hard != words:  # German, Greek-derived and Italian "ch" is "k" ("Roerich" Рерих, "Nicholas" Николас)
        out.append(hard)
    soft = [_SOFT_G.sub("dzh", w) for w in spoken]
    if soft != spoken:  # English, French and Italian "g" before e, i, y ("Georgia" ジョージア, "Bourgeois" Буржуа)
        out.append(soft)
    lisped = [w.replace("th", "s") for w in words]
    if lisped != words:  # kana and Hangul write an English "th" as "s" ("Keith" キース, "Smith" 스미스)
        out.append(lisped)
    if any(_HUNGARIAN_MARK.search(w.lower()) for w in written) and any(_HUNGARIAN_DIGRAPH.search(w) for w in words):
        # Hungarian spelling: "cs" is "ch", "sz" "s", "s" "sh", "zs" "zh", "gy" "dy", "ly" "y"
        # ("Munkácsy Mihály" is Мункачи Михай)
        out.append([_HUNGARIAN_DIGRAPH.sub(lambda m: _HUNGARIAN_SOUND[m.group()], w) for w in words])
    german = [w.replace("w", "v") for w in words]
    if german != words:  # German, Polish and Dutch "w" is "v" ("Wassily" is 바실리, "Witkacy" Виткаций)
        out.append(german)
    czech = [_CZECH_CH.sub("h", w) for w in words]
    if czech != words:  # Czech and Slovak "ch" is "kh", written "h" ("Mucha" is 무하, Муха)
        out.append(czech)
    rounded = ["u" + w[1:] if len(w) > 3 and w[0] == "w" and w[1] in "aeio" else w for w in words]
    if rounded != words:  # an initial "w" is written as a vowel "u" ("Warhol" is Уорхол, "Whistler" Уистлер)
        out.append(rounded)
    for base in (words, unsounded):
        latinate = [w[:-2] if len(w) >= 6 and w.endswith("us") else w for w in base]
        if latinate != base and latinate not in out:  # a Latin "-us" is left off in Slavic scripts ("Hieronymus" is Иероним)
            out.append(latinate)
    spanish = [_GLIDE_J_ANY.sub("kh", w) for w in words]
    if spanish != words:  # Spanish "j" is "kh" as other scripts write it ("Juan" Хуан, خوان)
        out.append(spanish)
    return out


def _particle_surname(words: list[str]) -> int:
    """How many words the surname of a Latin name takes from its end: two when a particle
    ("van", "de", "von", …) comes before the last word ("van Gogh", "de Kooning"), else one."""
    return 2 if len(words) >= 3 and words[-2].lower() in _PARTICLES else 1




def _bulk_label_skeletons(
    label: str, cache: dict[tuple[str, str], str],
) -> tuple[str, list[str], list[str]]:
    """(script, the skeletons of :func:`_label_forms`'s name forms, those of its surname forms).

    A bulk build shares ``cache`` (word readings and skeletons, see :func:`_label_forms`)
    across all its labels, so each distinct word of a registry is read once; the forms are
    :func:`_label_forms`'s own, so a rule added there holds for bulk builds too.
    """
    script, names, surnames = _label_forms(label, cache)
    return script, [f.skeleton for f in names], [f.skeleton for f in surnames]


def _r_less(words: list[str]) -> list[str] | None:
    """The name with English r-less codas ("Potter" is ポター, 포터; "Robert" ロバート), or None
    when it has none: kana and Hangul write an r after a vowel and before a consonant or the
    end as a long vowel or not at all."""
    rless = [_R_CODA.sub("", w) for w in words]
    return rless if rless != words and all(rless) else None


def allowed_edits(length: int) -> int:
    return 1 if length >= ONE_EDIT_LEN else 0


@dataclass(frozen=True)
class SkeletonMatch:
    label_id: int
    start: int
    end: int
    edits: int
    reading: str  # the romanised words of the prompt
    skeleton: str  # the prompt's skeleton that matched
    key: str  # the registered name's skeleton
    part: str = "name"  # "name": the whole name; "spelt": a short one whose letters agree; "surname": alone, with a cue


class _Word:
    __slots__ = ("start", "end", "script", "text")

    def __init__(self, start: int, end: int, script: str, text: str) -> None:
        self.start, self.end, self.script, self.text = start, end, script, text


_SYMBOLS = "PTKSRMNV"
_NIBBLE = str.maketrans({c: str(k + 1) for k, c in enumerate(_SYMBOLS)})
MAX_SKELETON_LEN = 15  # symbols packed four bits each into one int64 (longer names are not indexed)
_FOLD_MIN = 4096


def pack(skeleton: str) -> int:
    """A skeleton as an int, four bits a symbol (last symbol lowest): exact, no hashing."""
    return int(skeleton.translate(_NIBBLE), 16)


def neighbourhood(code: int, length: int) -> list[int]:
    """The packed skeleton and every packed skeleton one symbol shorter (one deletion)."""
    out = [code]
    for j in range(length):
        low = code & ((1 << 4 * j) - 1)
        out.append((code >> 4 * (j + 1)) << 4 * j | low)
    return out


class SkeletonCodes:
    """Packed skeletons and their one-deletion neighbourhoods → label ids.

    Twelve bytes a code in two sorted numpy arrays (built in bulk, vectorised), with a small
    dictionary overlay for labels added on a live matcher, folded in once it grows. A query
    of a few dozen codes is one ``searchsorted``.
    """

    def __init__(self, neighbours: bool = True) -> None:
        import numpy as np

        self._np = np
        self._neighbours = neighbours  # False: exact codes only (lone surnames are looked up exactly)
        self._codes = np.empty(0, dtype=np.int64)
        self._ids = np.empty(0, dtype=np.int32)
        self._overlay: dict[int, list[int]] = {}
        self._overlay_n = 0

    def __len__(self) -> int:
        return len(self._codes) + self._overlay_n

    def add_bulk(self, skeletons: list[str], ids: list[int]) -> None:
        np = self._np
        if len(skeletons) < 64 and self._overlay_n + len(skeletons) < max(_FOLD_MIN, len(self._codes) // 8):
            for sk, label_id in zip(skeletons, ids):
                for c in (neighbourhood(pack(sk), len(sk)) if self._neighbours else [pack(sk)]):
                    self._overlay.setdefault(c, []).append(label_id)
                    self._overlay_n += 1
            return
        codes = np.fromiter(map(pack, skeletons), dtype=np.int64, count=len(skeletons))
        lens = np.fromiter(map(len, skeletons), dtype=np.int64, count=len(skeletons))
        label_ids = np.asarray(ids, dtype=np.int32)
        parts_c, parts_i = [self._codes, codes], [self._ids, label_ids]
        for j in range(int(lens.max()) if self._neighbours else 0):
            keep = lens > j
            c = codes[keep]
            low = c & ((1 << (4 * j)) - 1)
            parts_c.append(((c >> (4 * (j + 1))) << (4 * j)) | low)
            parts_i.append(label_ids[keep])
        if self._overlay:
            parts_c.append(np.fromiter((c for c, v in self._overlay.items() for _ in v), dtype=np.int64))
            parts_i.append(np.fromiter((i for v in self._overlay.values() for i in v), dtype=np.int32))
            self._overlay, self._overlay_n = {}, 0
        all_c, all_i = np.concatenate(parts_c), np.concatenate(parts_i)
        order = np.argsort(all_c)  # one code's ids are gathered into a set: their order does not matter
        self._codes, self._ids = all_c[order], all_i[order]
        if len(order) >= 1 << 20:
            from stylegate.governance.screening.keyindex import release_freed_memory

            del all_c, all_i, order, parts_c, parts_i
            release_freed_memory()  # the sort's temporaries, given back (see keyindex)

    def get_grouped(self, groups: list[list[int]], limit: int) -> list[set[int] | None]:
        """Label ids filed under each group of codes; None for a group filed under more than ``limit``."""
        np = self._np
        flat = [c for g in groups for c in g]
        ranges: list[tuple[int, int]] = []
        if len(self._codes) and flat:
            q = np.asarray(flat, dtype=np.int64)
            lo = np.searchsorted(self._codes, q, "left").tolist()
            hi = np.searchsorted(self._codes, q, "right").tolist()
            ranges = list(zip(lo, hi))
        out: list[set[int] | None] = []
        at = 0
        for g in groups:
            spans = ranges[at : at + len(g)]
            at += len(g)
            if sum(b - a for a, b in spans) > limit * (MAX_SKELETON_LEN + 1):
                out.append(None)  # more entries than ``limit`` names can file under one neighbourhood
                continue
            found: set[int] = set()
            for a, b in spans:
                if b > a:
                    found.update(self._ids[a:b].tolist())
            if self._overlay:
                for c in g:
                    found.update(self._overlay.get(c, ()))
            out.append(found if len(found) <= limit else None)
        return out


class SkeletonIndex:
    """Skeleton codes of registered labels, three maps: names in Latin, names in other
    scripts, and the surnames of Latin names (matched alone only next to a style cue)."""

    def __init__(self) -> None:
        self._latin = SkeletonCodes()
        self._native = SkeletonCodes()
        self._surnames = SkeletonCodes(neighbours=False)
        # Two-symbol surnames of multi-word names ("Monet" MN, "Dalí" TR) apart, so that they
        # do not crowd the one-word names and longer surnames out of a lookup's candidates.
        self._short_surnames = SkeletonCodes(neighbours=False)
        self._pending: list[tuple[int, str]] = []
        self._max_len = 0
        self._native_lens: set[int] = set()  # skeleton lengths of names in other scripts

    def add(self, label_id: int, label: str) -> None:
        """File a label (packed in bulk on the next lookup or :meth:`settle`)."""
        self._pending.append((label_id, label))

    def settle(self) -> None:
        """Pack the pending labels' skeletons and their one-deletion neighbourhoods."""
        if not self._pending:
            return
        filed: dict[str, tuple[list[str], list[int]]] = {"latin": ([], []), "native": ([], []), "surname": ([], []),
                                                         "short": ([], [])}
        # A per-word cache for this batch: each distinct word is read once (see _bulk_label_skeletons).
        cache: dict[tuple[str, str], str] = {}
        latin_keys, latin_ids = filed["latin"]
        native_keys, native_ids = filed["native"]
        surname_keys, surname_ids = filed["surname"]
        for label_id, label in self._pending:
            script, names, surnames = _bulk_label_skeletons(label, cache)
            if names:
                if script == LATIN:
                    latin_keys.extend(names)
                    latin_ids.extend([label_id] * len(names))
                else:
                    native_keys.extend(names)
                    native_ids.extend([label_id] * len(names))
                    self._native_lens.update(map(len, names))
            if surnames:
                several = " " in label.strip()
                for key in surnames:
                    kind = "short" if several and len(key) < MIN_SURNAME_LEN else "surname"
                    filed[kind][0].append(key)
                    filed[kind][1].append(label_id)
        del cache
        for keys in (latin_keys, native_keys, surname_keys):
            if keys:
                self._max_len = max(self._max_len, max(map(len, keys)))
        for kind, (keys, ids) in filed.items():
            if keys:
                {"latin": self._latin, "native": self._native, "surname": self._surnames,
                 "short": self._short_surnames}[kind].add_bulk(keys, ids)
        self._pending = []

    def find(self, prompt: str, tokens: Sequence[Token], labels: Sequence[str | None]) -> list[SkeletonMatch]:
        """Windows of prompt words whose skeleton is a registered name's (see the module doc)."""
        self.settle()
        has_native = len(self._native) > 0
        if not has_native and not any(t.script != LATIN for t in tokens):
            return []
        words = _words(prompt, tokens, has_native)
        if not words:
            return []
        windows: list[tuple[int, int, str, str, bool]] = []  # first, last word, skeleton, reading, latin
        for i, first in enumerate(words):
            readings: list[str] = []
            for j in range(i, min(len(words), i + MAX_WORDS)):
                w = words[j]
                if j > i and (w.script != first.script or not _separated(prompt, words[j - 1].end, w.start)):
                    break
                readings.append(romanise(w.text, w.script))
                reading = " ".join(readings)
                seen: set[str] = set()
                for variant in _variants(reading, first.script):
                    joined = "".join(word_skeleton(x) for x in variant.split(" "))
                    if joined in seen or len(joined) > self._max_len + 1:
                        continue
                    seen.add(joined)
                    if first.script == LATIN and j == i:
                        continue  # a Latin word alone is never read as a name in another script
                    if first.script == LATIN and not self._native_lens & {len(joined) - 1, len(joined), len(joined) + 1}:
                        continue  # no name in another script is within an edit of this length
                    if j > i:
                        dotted = any(c in _DOTS for c in prompt[words[i].end : words[j].start])
                        # two words as short as a surname: a particle and a surname ("فان غوخ")
                        shortest = MIN_DOTTED_NAME_LEN if dotted else MIN_SURNAME_LEN if j == i + 1 else MIN_NAME_LEN
                    else:
                        shortest = MIN_MONONYM_LEN  # outside an alphabet a two-symbol word needs a strong cue
                    if shortest <= len(joined) <= MAX_SKELETON_LEN:
                        windows.append((i, j, joined, variant, first.script == LATIN))
                if len("".join(word_skeleton(x) for x in readings)) > self._max_len + 1:
                    break
        if not windows:
            return []
        out: list[SkeletonMatch] = []
        for latin_side in (False, True):
            asked = [w for w in windows if w[4] == latin_side]
            target = self._native if latin_side else self._latin
            if not asked or not len(target):
                continue
            groups = [neighbourhood(pack(w[2]), len(w[2])) for w in asked]
            for window, candidates in zip(asked, target.get_grouped(groups, MAX_CANDIDATES)):
                if candidates:  # None: a skeleton shared by that many names tells nothing
                    out.extend(_verify(prompt, [window], words, candidates, labels))
        # A surname alone in another script ("カンディンスキー風"): exact, one word, a style cue.
        out = _one_per_span(out)
        named = {(m.start, m.end) for m in out}  # words read as a whole name are not read again as a surname
        alone = [w for w in windows if not w[4] and w[1] - w[0] < 2  # a surname, or a particle and a surname
                 and not any(a <= words[w[0]].start and words[w[1]].end <= b for a, b in named)]
        if alone and (len(self._surnames) or len(self._short_surnames)):
            groups = [[pack(w[2])] for w in alone]
            none: list[set[int] | None] = [None] * len(groups)
            main = self._surnames.get_grouped(groups, MAX_SURNAME_CANDIDATES) if len(self._surnames) else none
            short = self._short_surnames.get_grouped(groups, MAX_SURNAME_CANDIDATES) if len(self._short_surnames) else none
            for window, found, found_short in zip(alone, main, short):
                candidates = (found or set()) | (found_short or set())
                if candidates:
                    out.extend(_verify_surname(prompt, window, words, candidates, labels))
        return out

    def find_misspelt_surnames(self, prompt: str, tokens: Sequence[Token], labels: Sequence[str | None]
                               ) -> list[SkeletonMatch]:
        """Latin words next to a style cue that are a misspelling of a registered Latin surname.

        "by Ciurlonis", "by Churlionis" (Čiurlionis): the fuzzy and phonetic rules file whole
        names, so a surname alone misspelt was lost. Here a word of :data:`MIN_MISSPELT_LETTERS`
        or more letters, no word in any screened language, whose consonant skeleton is a
        registered surname's (the lone-surname codes, exact: the sound agrees), within a
        length-scaled edit bound of its letters (one edit under ten letters, two from ten;
        rapidfuzz Levenshtein) and next to a style cue, names the closest such artist.
        """
        self.settle()
        if not len(self._surnames):
            return []
        asked: list[tuple[Token, str, str]] = []
        for t in tokens:
            if t.script != LATIN or t.end - t.start < MIN_MISSPELT_LETTERS:
                continue
            text = prompt[t.start : t.end]
            if not text.isalpha():
                continue
            word = romanise(text, LATIN)
            if lexicon.is_word(word) or frequency.zipf(word) > 0:
                continue  # a word of some language, not a misspelt name
            skeleton = word_skeleton(word)
            if MIN_SURNAME_LEN + 1 <= len(skeleton) <= MAX_SKELETON_LEN:
                asked.append((t, word, skeleton))
        if not asked:
            return []
        from rapidfuzz.distance import Levenshtein

        out: list[SkeletonMatch] = []
        found = self._surnames.get_grouped([[pack(sk)] for _, _, sk in asked], MAX_SURNAME_CANDIDATES)
        for (t, word, skeleton), candidates in zip(asked, found):
            if not candidates or not _cued(prompt, t.start, t.end):
                continue
            scored: list[tuple[int, int]] = []
            for label_id in sorted(candidates):
                label = labels[label_id] if 0 <= label_id < len(labels) else None
                if label is None or not _is_latin_label(label):
                    continue
                written = romanise(label.split()[-1], LATIN)
                bound = 1 if len(written) < 10 else 2
                d = Levenshtein.distance(word, written, score_cutoff=bound)
                if 0 < d <= bound and word_skeleton(written) == skeleton and not inflection.is_masculine_of(word, written):
                    scored.append((d, label_id))
            best = min((d for d, _ in scored), default=0)
            out.extend(SkeletonMatch(label_id, t.start, t.end, d, word, skeleton, skeleton, "misspelt")
                       for d, label_id in scored if d == best)
        return out


def _is_latin_label(label: str) -> bool:
    found = _label_words(label)
    return found is not None and found[1] == LATIN


@lru_cache(maxsize=16384)
def _variants(reading: str, script: str) -> tuple[str, ...]:
    """A romanised window and the readings its script's spelling conventions for foreign names
    allow (each rule alone, then all together; see :data:`_CONVENTIONS`).

    With three or more rules applying, every rule but one is a reading too. Cyrillic х and
    Greek χ are also "h" ("Хасуй" is "Hasui", "Йоханнес" "Johannes"); Cyrillic
    "дж" and Greek "τζ" are also a soft "g" ("Джентилески" is "Gentileschi"), "ск" before "и"
    also an Italian "sch" and "сх" a Dutch one ("Босх" is "Bosch"); a Greek "μπ", "ντ", "γκ" inside
    a word is also "b", "d", "g" ("Έντγκαρ" is "Edgar"); kana and Hangul "v" is also a German
    "w" ("コルヴィッツ" is "Kollwitz"). Cyrillic "г" is also a Latin "h" ("Ибрагим" is
    "Ibrahim", "Гегель" "Hegel"), and a final "-н" after a vowel also "-ng" (Chinese names in
    the Palladius system: "Хуан" is "Huang"), and a Russian case ending that adds consonants
    ("-ого", "-ому", "-ым", "-ом", "-ами", "-ах") is also left off ("Вычулковского" is
    "Wyczółkowski"); Hangul "후" is also a Japanese "fu" ("후지타" is "Foujita").
    """
    rules = _CONVENTIONS.get(script, ())
    if len(reading) > _MAX_VARIANT_READING:
        rules = ()
    out = [reading]
    changed = reading
    applied = []
    for pattern, latin in rules:
        one = pattern.sub(latin, reading)
        if one != reading:
            out.append(one)
            applied.append((pattern, latin))
            changed = pattern.sub(latin, changed)
    if changed not in out:
        out.append(changed)
    if len(applied) > 2:  # every rule but one ("Γουόρχολ": "gu" and "ch" read, "nt" kept in "Άντι")
        for skip in range(len(applied)):
            most = reading
            for k, (pattern, latin) in enumerate(applied):
                if k != skip:
                    most = pattern.sub(latin, most)
            if most not in out:
                out.append(most)
    return tuple(out)


def _one_per_span(matches: list[SkeletonMatch]) -> list[SkeletonMatch]:
    """One match per (name, span): readings of one window may each find the name; the one
    with the fewest edits, spelt out before not, is kept."""
    best: dict[tuple[int, int, int], SkeletonMatch] = {}
    for m in matches:
        key = (m.label_id, m.start, m.end)
        held = best.get(key)
        if held is None or (m.edits, m.part != "spelt") < (held.edits, held.part != "spelt"):
            best[key] = m
    return list(best.values())


def _cued(prompt: str, start: int, end: int) -> bool:
    cue = cues.style_cue(prompt, start, end)
    return cue is not None and cues.counts(cue, prompt, start, end)


def _verify(
    prompt: str, windows: list[tuple[int, int, str, str, bool]], words: list[_Word], candidates: set[int],
    labels: Sequence[str | None],
) -> list[SkeletonMatch]:
    from rapidfuzz.distance import Levenshtein

    out = []
    for label_id in candidates:
        label = labels[label_id] if 0 <= label_id < len(labels) else None
        if label is None:
            continue  # removed since it was filed
        script, forms, _ = label_forms(label)
        for i, j, skeleton, reading, _latin in windows:
            n = j - i + 1
            if words[i].script == script:
                continue  # the same script is the other rules' job
            for form in forms:
                # The whole name, word for word; a run of kana may hold several words of it.
                if n != form.words and not (n < form.words and words[i].script in _UNSPACED_KEPT) and not (
                        n == form.words - 1 and words[i].script == "HANGUL" and "-" in label):
                    continue
                limit = allowed_edits(len(form.skeleton))
                short = (form.words == 1 and len(form.skeleton) < MIN_SINGLE_LEN
                         or form.words > 1 and len(form.skeleton) < MIN_NAME_LEN)
                if short:
                    # A short one-word name, or a short name of words joined by a middle dot
                    # ("マン・レイ"): the same skeleton exactly, and its letters spelt out too.
                    if skeleton != form.skeleton or n != form.words or not _letters_agree(reading, label, script, form):
                        continue
                    if form.words > 1 and not any(c in _DOTS for c in prompt[words[i].end : words[j].start]):
                        continue
                d = Levenshtein.distance(skeleton, form.skeleton, score_cutoff=limit)
                if d > limit:
                    continue
                if d and n == form.words and not _edit_in_long_word(skeleton, reading, form) and not _silent_final(
                    skeleton, reading, form, label, script
                ) and not _cued(prompt, words[i].start, words[j].end):
                    continue  # "Ивана Купала" is not "Ivana Kobilca": an edit in a short word needs a cue
                if _reading_agreement(reading, label, script, words[i].script) < MIN_READING_AGREEMENT:
                    continue  # the consonant classes agree by chance; the letters do not
                part = "name"
                silent = d == 1 and _silent_final(skeleton, reading, form, label, script)
                if ((d == 0 or silent) and MIN_NAME_LEN <= len(skeleton) < STANDS_ALONE_LEN and n == form.words and n > 1
                        and _spelt_out(reading, label, script, form, words[i].script)):
                    part = "spelt"  # a short skeleton whose letters, vowels included, agree too
                out.append(SkeletonMatch(label_id, words[i].start, words[j].end, d, reading, skeleton, form.skeleton, part))
                break
    return out


@lru_cache(maxsize=16384)
def _word_readings(label: str, script: str) -> tuple[tuple[str, ...], ...]:
    """The label's romanised words, then for a Latin name each of its spoken readings
    (:func:`_spoken_readings`), word by word (cached: verification asks for them per prompt)."""
    found = _label_words(label)
    if found is None:
        return ()
    words = [romanise(w, script) for w in found[0]]
    spoken = _spoken_readings(words, found[0]) if script == LATIN else []
    return tuple(tuple(r) for r in [words, *spoken])


@lru_cache(maxsize=16384)
def _label_readings(label: str, script: str) -> tuple[str, ...]:
    """The label's :func:`_word_readings` joined in the orders a window may hold them."""
    out: list[str] = []
    for read in _word_readings(label, script):
        orders = [read, read[::-1]] + ([[read[0], read[-1]], [read[-1], read[0]]] if len(read) >= 3 else [])
        out.extend(" ".join(o) for o in orders)
    return tuple(dict.fromkeys(out))


def _reading_agreement(reading: str, label: str, script: str, window_script: str = LATIN) -> float:
    """How far the window's romanised letters agree with the name's (rapidfuzz ratio, 0–100).

    A skeleton keeps consonant classes only; in a large registry an ordinary phrase in a
    script that writes vowels ("கோவில் கோபுரம்", "Երևան գիշերը") or another name in kana
    finds some registered name with the same classes, but its letters mostly differ
    (ratios 17–42 where 10,000 synthetic names are registered), while a name written in
    another script keeps about half of them or more (57–90: "mondeulian" / "mondrian",
    "syryn ns't" / "shirin neshat").
    """
    from rapidfuzz import fuzz

    def plain(text: str) -> str:  # letters and spaces; an abjad's reading is compared without vowels
        text = _NOT_LETTER_OR_SPACE.sub("", text.lower())
        # the geresh reading "dzh" (ג׳) is the "j" a name is spelt with
        return _VOWEL_LETTERS.sub("", text.replace("dzh", "j")) if abjad else text

    abjad = window_script in _ABJADS
    mine = plain(reading)
    readings = _label_readings(label, script)
    best = max((fuzz.ratio(mine, plain(r)) for r in readings), default=0.0)
    if not abjad:  # the same letters as they sound ("pol gogen" / "paul gauguin")
        sounded = phonetic_letters(mine)
        heard = max((fuzz.ratio(sounded, phonetic_letters(r)) for r in readings), default=0.0)
        best = max(best, heard if heard >= MIN_HEARD_AGREEMENT else 0.0)
    return best


def _spelt_out(reading: str, label: str, script: str, form: Form, window_script: str) -> bool:
    """Whether a window of words spells the name out, vowels included, in its script.

    An alphabet, kana, Hangul or an abugida writes every vowel: each word's letters must agree
    with the name's (:func:`_letters_agree`; "파블로 피카소", "フリーダ・カーロ"). An abjad
    writes a foreign name's vowels with its long-vowel letters: each word's letters as they
    sound must agree closely and keep all but one of the name's vowels ("بابلو بيكاسو").
    """
    if window_script in _UNSPACED_KEPT:  # kana: also without the vowels it adds after a consonant
        return _letters_agree(reading, label, script, form) or _letters_agree(_kana_core(reading), label, script, form)
    if window_script not in _ABJADS:
        return _letters_agree(reading, label, script, form)
    mine = reading.split(" ")
    for words in _word_readings(label, script):
        for order in (words, words[::-1]):
            if len(order) != len(mine):
                continue
            if all(_heard_agrees(a, b) for a, b in zip(mine, order)):
                return True
    return False


def _kana_core(reading: str) -> str:
    """A kana reading without the vowels kana adds to a foreign name's lone consonants: "u"
    after a consonant, and "o" after "t" or "d", before another consonant or the end
    ("kurimuto" is "krimt" for Klimt, "wohoru" "wohor" for Warhol)."""
    return _KANA_EPENTHETIC.sub("", reading)


def _heard_agrees(mine: str, name: str) -> bool:
    """An abjad word against a name word: the letters as they sound agree closely, and at most
    one of the name's vowels is left unwritten."""
    heard, spoken = phonetic_letters(mine), phonetic_letters(name)
    vowels = _vowel_count(heard)
    return bool(vowels) and vowels >= _vowel_count(spoken) - 1 and fuzz_ratio(heard, spoken) >= MIN_HEARD_AGREEMENT


def _letters_agree(reading: str, label: str, script: str, form: Form) -> bool:
    """Whether the romanised window spells the name's words, vowels included.

    A short skeleton ("Ян Матейко", NMTK) is shared by many phrases; one whose letters agree
    with the name word for word (rapidfuzz ratio ≥ :data:`MIN_SURNAME_LETTERS` on every word,
    in the name's order or reversed, "j" read either way) is the name written out, and stands
    without a cue.
    """

    found = _label_words(label)
    if found is None:
        return False
    words = [romanise(w, script) for w in found[0]]
    mine = reading.split(" ")
    orders = [words, words[::-1]] + ([[words[0], words[-1]], [words[-1], words[0]]] if len(words) >= 3 else [])

    def agree(a: str, b: str) -> bool:
        return _letter_ratio(a, b) >= MIN_SURNAME_LETTERS

    return any(len(o) == len(mine) and all(agree(a, b) for a, b in zip(mine, o)) for o in orders)


def _letter_ratio(mine: str, written: str) -> float:
    """How far a romanised prompt word agrees with a name's word: the best rapidfuzz ratio of
    the letters, the letters with "j" as a glide, and the letters as they sound
    (:func:`phonetic_letters`)."""
    from rapidfuzz import fuzz

    heard = fuzz.ratio(phonetic_letters(mine), phonetic_letters(written))
    return max(fuzz.ratio(mine, written), fuzz.ratio(mine, _GLIDE_J_ANY.sub("y", written)),
               heard if heard >= MIN_HEARD_AGREEMENT else 0.0)


def _silent_final(skeleton: str, reading: str, form: Form, label: str, script: str) -> bool:
    """Whether the window's one edit is a final consonant of the name that is not sounded.

    French and other names end in letters nobody pronounces ("Degas", "Monet", "Boucher's"
    "-er" aside): other scripts write the name as it sounds (Ντεγκά, Моне, ドガ). A window
    whose words equal the name's except that one word lacks the last symbol of the name's
    word, where that word is spelt ending in -s, -t, -d, -x or -z after a vowel, is read as
    the name (no cue needed); any other edit in a short word still needs one.
    """
    found = _label_words(label)
    if found is None or script != LATIN:
        return False
    mine = [p for p in (word_skeleton(x) for x in reading.split(" ")) if p]
    if len(mine) != len(form.parts) or "".join(mine) != skeleton:
        return False
    silent = {word_skeleton(romanise(w, script)) for w in found[0] if _SILENT_END.search(w.lower())}
    changed = [(a, b) for a, b in zip(mine, form.parts) if a != b]
    return len(changed) == 1 and changed[0][1] in silent and changed[0][1][:-1] == changed[0][0] != ""


def _edit_in_long_word(skeleton: str, reading: str, form: Form) -> bool:
    """Whether the window's one edit falls in a word of :data:`MIN_EDITED_WORD` or more symbols.

    Word for word, the window's skeletons equal the name's except one; that one is long
    enough that a changed symbol still leaves most of it. A one-edit match whose changed
    word is short ("kupala" KPR for "kobilca" KPRK) is too weak to stand without a cue.
    """
    from rapidfuzz.distance import Levenshtein

    mine = [word_skeleton(x) for x in reading.split(" ")]
    mine = [p for p in mine if p]
    if len(mine) != len(form.parts) or "".join(mine) != skeleton:
        mine = [word_skeleton(x) for x in reading.replace("kh", "h").replace("ch", "h").split(" ")]
        mine = [p for p in mine if p]
    if len(mine) != len(form.parts):
        return False
    changed = [(a, b) for a, b in zip(mine, form.parts) if a != b]
    return len(changed) == 1 and Levenshtein.distance(*changed[0]) == 1 and min(map(len, changed[0])) >= MIN_EDITED_WORD


def _verify_surname(
    prompt: str, window: tuple[int, int, str, str, bool], words: list[_Word], candidates: set[int],
    labels: Sequence[str | None],
) -> list[SkeletonMatch]:
    i, j, skeleton, reading, _ = window
    w = words[i]
    n = j - i + 1
    cue = cues.style_cue(prompt, w.start, words[j].end)
    cued = cue is not None and cues.counts(cue, prompt, w.start, words[j].end)
    strong = cued and cue is not None and cue.strong
    # Without a cue, only one word of an alphabet spelling the name letter for letter stands
    # ("Караваджо", "Босх"), as the surname alone stands in Latin letters, and not when it is
    # an ordinary word of its own language.
    spelt_only = not cued
    if spelt_only and (w.script not in _ALPHABETS or n != 1 or len(skeleton) < MIN_SPELT_SURNAME_LEN
                       or frequency.zipf(canonical_word(w.text)) >= frequency.COMMON_ZIPF
                       or language.native_word(w.text, frequency.COMMON_ZIPF)):
        return []
    abjad = w.script in _ABJADS
    out: list[tuple[float, SkeletonMatch]] = []
    for label_id in sorted(candidates):
        label = labels[label_id] if 0 <= label_id < len(labels) else None
        if label is None:
            continue
        script, _, surnames = label_forms(label)
        # One word is weak evidence: its letters, vowels included, must mostly agree too
        # ("クブシノブ" ku-bu-shi-no-bu is Kuvshinov; "カブシナブ" ka-bu-shi-na-bu is not).
        if w.script == script or not any(f.skeleton == skeleton and f.words == n for f in surnames):
            continue
        written = " ".join(romanise(x, script) for x in label.split()[-n:])
        spoken = [" ".join(r[-n:]) for r in _surname_readings(label, script)]
        if len(skeleton) < MIN_SURNAME_LEN and not (w.script in _ALPHABETS or strong):
            continue  # a two-symbol word ("Моне", "モネ") is a name's only spelt out, next to a strong cue outside an alphabet
        if abjad:
            # An abjad writes a foreign name's vowels with its long-vowel letters (بيكاسو
            # "bykasu"): only those letters as they sound, agreeing closely, stand for the name.
            heard, name = phonetic_letters(reading), phonetic_letters(written)
            vowels = _vowel_count(heard)
            # The vowels must be written too (at most one short one left out), not only the consonants.
            ratio = fuzz_ratio(heard, name) if vowels and vowels >= _vowel_count(name) - 1 else 0.0
            needed: float = MIN_HEARD_AGREEMENT
        else:
            ratio = max(_letter_ratio(reading, x) for x in [written, *spoken])
            needed = MIN_SURNAME_LETTERS if len(skeleton) >= SHORT_SURNAME_LEN else MIN_SHORT_SURNAME_LETTERS
            if len(skeleton) < MIN_SURNAME_LEN:
                needed = MIN_MONONYM_LETTERS
        if spelt_only:
            needed = max(needed, MIN_MONONYM_LETTERS)
        if ratio >= needed:
            part = "spelt" if spelt_only else "surname"
            out.append((ratio, SkeletonMatch(label_id, w.start, words[j].end, 0, reading, skeleton, skeleton, part)))
    # One word names one person: of the surnames it could be, only the closest in letters.
    best = max((r for r, _ in out), default=0.0)
    return [m for r, m in out if r == best]


@lru_cache(maxsize=4096)
def _surname_readings(label: str, script: str) -> tuple[tuple[str, ...], ...]:
    """A Latin label's spoken readings (:func:`_spoken_readings`), word by word, for the
    letters of a lone surname ("khristo" for "Christo", クリスト)."""
    readings = _word_readings(label, script) if script == LATIN else ()
    if not readings:
        return ()
    words = readings[0]
    out = list(readings[1:])
    if _SILENT_END.search(words[-1]):  # the surname without its silent final consonant ("mone")
        out.append((*words[:-1], words[-1][:-1]))
    return tuple(out)


def _vowel_count(sounded: str) -> int:
    """Vowel letters in a :func:`phonetic_letters` string (its vowels are lower case)."""
    return sum(c in "aiou" for c in sounded)


def fuzz_ratio(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return fuzz.ratio(a, b)


def _separated(prompt: str, end: int, start: int) -> bool:
    """Whether only spaces, middle dots or hyphens stand between two words (and something does)."""
    gap = prompt[end:start]
    return bool(gap) and all(c in _SEPARATORS for c in gap)


def _words(prompt: str, tokens: Sequence[Token], latin_words: bool) -> list[_Word]:
    """Prompt words for the rule: runs of one non-Latin script, and uncommon Latin words."""
    out: list[_Word] = []
    for t in tokens:
        script = t.script
        if script in _PROMPT_EXCLUDED:
            continue
        if script == LATIN:
            if not latin_words:
                continue
            text = prompt[t.start : t.end]
            if len(t.text) < 2 or not text.isalpha() or lexicon.is_common(t.text):
                continue  # a common English word is no part of a name written in another script
        prev = out[-1] if out else None
        joined = prev is not None and prev.script == script and script != LATIN and (
            prev.end == t.start or script == "HEBREW" and prompt[prev.end : t.start] in _GERESH)  # ג'ורג'
        if prev is not None and joined:
            prev.end = t.end  # adjacent characters of a script written without spaces: one word
            prev.text = prompt[prev.start : prev.end]
            continue
        out.append(_Word(t.start, t.end, script, prompt[t.start : t.end]))
    cue_words = _cue_words()
    # A one-letter word ("в") or a word of a style cue ("стиле", "스타일") is no part of a name.
    return [w for w in out if len(romanise(w.text, w.script)) > 1 and w.text.casefold() not in cue_words]
