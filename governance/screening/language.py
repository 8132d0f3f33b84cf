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
