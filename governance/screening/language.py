"""Which language a prompt is written in, cheaply, and how common a word is in that language.

A weak style cue is a short function word of some languages ("de" is "by" in Spanish,
French and Portuguese, but also "of"; "di" is Italian "of"; "by" is English). Whether the
word after it is an ordinary word must be asked in the prompt's language: Spanish "raza"
(breed) is a common Spanish word, though rare in English and French.

The language is guessed from wordfreq's per-language "small" lists (words at Zipf 3 or
more, one per million words): among the candidate languages, the one in whose list most
of the prompt's other words are found. That needs no model and no training; it only has to
choose among the few languages a cue belongs to. Lists are read on first use of a
language (about 10 ms each).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stylegate.governance.screening.gazetteer import SortedTable

log = logging.getLogger(__name__)

# The languages each weak cue of ``screening.cues.WEAK_BEFORE`` is a preposition of, in
# wordfreq's codes. A cue missing here is read as English.
CUE_LANGUAGES: dict[str, tuple[str, ...]] = {
    "by": ("en",), "after": ("en",), "like": ("en",),
    "von": ("de",), "nach": ("de",),
    "par": ("fr",), "de": ("es", "fr", "pt"), "d'": ("fr", "it"), "por": ("es", "pt"),
    "di": ("it",), "da": ("it", "pt"), "av": ("sv", "nb"), "door": ("nl",), "af": ("da", "nl"),
    "od": ("pl", "cs"), "podle": ("cs",), "według": ("pl",),
    "от": ("ru",), "від": ("uk",), "από": ("el",), "του": ("el",), "της": ("el",), "من": ("ar",),
}


@lru_cache(maxsize=65536)
def zipf_in(word: str, lang: str) -> float:
    """Zipf frequency of ``word`` (as written, any case) in ``lang``'s small list; 0.0 when rarer."""
    try:
        import wordfreq

        return float(wordfreq.zipf_frequency(word.lower(), lang, wordlist="small"))
    except (ImportError, LookupError, ValueError, OSError):  # no data for the language, or no wordfreq
        return 0.0


def cue_languages(cue: str) -> tuple[str, ...]:
    """The languages the weak cue ``cue`` (casefolded, as in ``cues.WEAK_BEFORE``) belongs to."""
    return CUE_LANGUAGES.get(cue, ("en",))


def best_languages(words: Iterable[str], candidates: Sequence[str]) -> tuple[str, ...]:
    """The candidates whose small word list holds the most of ``words`` (all of them on a tie or none)."""
    words = [w for w in words if any(c.isalpha() for c in w)]
    if len(candidates) < 2 or not words:
        return tuple(candidates)
    scores = {lang: sum(zipf_in(w, lang) > 0.0 for w in words) for lang in candidates}
    top = max(scores.values())
    if top == 0:
        return tuple(candidates)
    return tuple(lang for lang in candidates if scores[lang] == top)


def ordinary_in(word: str, langs: Iterable[str], min_zipf: float) -> str:
    """The first of ``langs`` in which ``word`` is at least ``min_zipf`` common, or ""."""
    for lang in langs:
        if zipf_in(word, lang) >= min_zipf:
            return lang
    return ""


# The languages wordfreq covers that are written in each script other than Latin (scripts
# written without spaces are left out: their words are not delimited in a prompt, and
# wordfreq needs a segmenter for them).
SCRIPT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "CYRILLIC": ("ru", "uk", "bg", "mk"), "GREEK": ("el",), "ARABIC": ("ar", "fa", "ur"), "HEBREW": ("he",),
    "DEVANAGARI": ("hi",), "BENGALI": ("bn",), "TAMIL": ("ta",),
}
# A word of a spaced script wordfreq does not cover (Georgian, Armenian, Ge'ez, Telugu, …)
# with this many base letters or fewer is too short to tell from an ordinary word.
MAX_UNCOVERED_SHORT = 3
# Longer words of a covered language are asked too, up to this many letters: wordfreq
# rates them like the screened languages' words in ``frequency`` (Russian "репин" 3.2).
MAX_SHORT_LETTERS = 12


def base_letters(word: str) -> int:
    """Letters of ``word`` that are not combining marks (a Tamil "மணி" has two)."""
    import unicodedata

    return sum(1 for c in word if c.isalpha() and not unicodedata.category(c).startswith("M"))


def native_word(word: str, min_zipf: float) -> str:
    """Why a short word written in a spaced script other than Latin reads as an ordinary word, or "".

    "роса" (dew, Bulgarian Zipf 3.6), "மணி" (bell, time; Tamil 5.7): the word is at least
    ``min_zipf`` common in a language wordfreq covers for its script. In a script wordfreq
    does not cover, a word of :data:`MAX_UNCOVERED_SHORT` letters or fewer counts as one.
    Only words of :data:`MAX_SHORT_LETTERS` letters or fewer are asked about.
    """
    from stylegate.governance.screening.scripts import LATIN, is_unspaced, scripts_in

    scripts = scripts_in(word)
    if len(scripts) != 1:
        return ""
    (script,) = scripts
    n = base_letters(word)
    if script == LATIN or is_unspaced(script) or n == 0 or n > MAX_SHORT_LETTERS:
        return ""
    langs = SCRIPT_LANGUAGES.get(script)
    if langs is None:
        return f"a {n}-letter {script.title()} word" if n <= MAX_UNCOVERED_SHORT else ""
    for lang in langs:
        z = zipf_in(word, lang)
        if z >= min_zipf:
            return f"an ordinary {lang!r} word (Zipf {z:.1f})"
    return ""


# Languages written in Latin letters that wordfreq covers and ``frequency.LANGUAGES`` does
# not: a name's word that is an ordinary word of one of them ("kobilica", a grasshopper in
# Slovenian) is rated in the prompt's language only (see :func:`ordinary_in_prompt`).
EXTRA_LATIN = ("ca", "hu", "ro", "sk", "sl", "sh", "lt", "lv", "is", "id", "ms", "fil", "vi")
MIN_LANGUAGE_WORDS = 2  # the prompt's other words found in a language's list before it is chosen
_EXTRA_FORMAT = "1"


def extra_cache_path() -> Path:
    """Where the extra languages' common words are kept (``STYLEGATE_WORDS_CACHE`` overrides)."""

    from stylegate.governance.screening.datacache import cache_file, package_version

    return cache_file(f"words-{package_version('wordfreq')}-{'-'.join(EXTRA_LATIN)}-v{_EXTRA_FORMAT}.tsv",
                      "STYLEGATE_WORDS_CACHE")


def extract_extra(out: Path) -> int:
    """Write ``key<TAB>lang:zipf10,…`` for every word at Zipf 3 or more in :data:`EXTRA_LATIN` (sorted)."""
    import wordfreq

    from stylegate.governance.screening.canonical import canonical_word
    from stylegate.governance.screening.datacache import write_atomically

    rows: dict[str, dict[str, int]] = {}
    for lang in EXTRA_LATIN:
        try:
            buckets = wordfreq.get_frequency_list(lang, wordlist="small")
        except (LookupError, OSError):  # pragma: no cover - a language missing from the data
            continue
        for index, words in enumerate(buckets):
            zipf10 = round(10 * wordfreq.cB_to_zipf(-index))
            if zipf10 < 30:
                break
            for word in words:
                key = canonical_word(word)
                if key and zipf10 > rows.setdefault(key, {}).get(lang, 0):
                    rows[key][lang] = zipf10
    lines = sorted(f"{k}\t{','.join(f'{lang}:{z}' for lang, z in v.items())}\n".encode() for k, v in rows.items())
    write_atomically(out, b"".join(lines))
    return len(lines)


@lru_cache(maxsize=1)
def _extra() -> SortedTable | None:
    from stylegate.governance.screening.datacache import ensure_extracted
    from stylegate.governance.screening.gazetteer import SortedTable

    path = extra_cache_path()
    if not ensure_extracted(path, ["stylegate.governance.screening.language", str(path)], lambda: extract_extra(path),
                            "wordfreq's extra languages' words", (OSError, ValueError, ImportError)):
        return None
    return SortedTable(path)


@lru_cache(maxsize=65536)
def extra_zipfs(key: str) -> dict[str, float]:
    """Zipf (3 or more) of a canonical word in each of :data:`EXTRA_LATIN` that has it."""
    table = _extra()
    raw = table.raw(key) if table is not None else None
    if not raw:
        return {}
    out = {}
    for item in raw.decode().split(","):
        lang, _, z = item.partition(":")
        if z.isdigit():
            out[lang] = int(z) / 10.0
    return out


def ordinary_in_prompt(word_key: str, other_keys: list[str], min_zipf: float) -> str:
    """The language of :data:`EXTRA_LATIN` the prompt is written in, when ``word_key`` is an
    ordinary word (``min_zipf``) of it, or "".

    The prompt's language is the one that holds the most of its other words (at least
    :data:`MIN_LANGUAGE_WORDS`), one of them a word that at most half of these languages
    share (loanwords such as "beach" are in all of them, so an English prompt chooses
    none): "kobilica na travniku poleti" is Slovenian, and "kobilica" an ordinary
    Slovenian word, not the painter Ivana Kobilca inflected.
    """
    zipfs = extra_zipfs(word_key)
    langs = [lang for lang, z in zipfs.items() if z >= min_zipf]
    if not langs:
        return ""
    counts = {lang: 0 for lang in EXTRA_LATIN}
    distinctive = {lang: 0 for lang in EXTRA_LATIN}
    for key in other_keys:
        found = extra_zipfs(key)
        for lang in found:
            counts[lang] += 1
            distinctive[lang] += 2 * len(found) <= len(EXTRA_LATIN)
    top = max(counts.values())
    if top < MIN_LANGUAGE_WORDS:
        return ""
    best = [lang for lang, n in counts.items() if n == top and distinctive[lang]]
    return next((lang for lang in best if lang in langs), "")


if __name__ == "__main__":  # the child process of :func:`_extra`
    import sys

    print(extract_extra(Path(sys.argv[1])))
