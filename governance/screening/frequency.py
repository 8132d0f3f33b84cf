"""How common a word is in the languages people write prompts in, from wordfreq's data.

wordfreq (Apache-2.0 code, CC-BY-SA data) ships word frequencies for about forty languages,
gathered from subtitles, Wikipedia, news, books and web text, and reads them offline. This
module keeps, for every word of its "small" lists (words at or above one per million, Zipf
3) in :data:`LANGUAGES`, the highest Zipf frequency over those languages, keyed the way
prompt tokens are (folded Latin, or the native script canonicalised), so a registered name
token can be rated in one lookup.

The Zipf scale is log10 of occurrences per billion words: "the" 7.7, "queen" 4.9,
"nielsen" 3.4, "kawasaki" 3.0, "rutkowski" 1.8; 0.0 means the word is rarer than the list's
floor (or absent). Surnames that are household words, brands and places are in the lists,
because they are frequent in text; that is what makes a lone surname ambiguous.
"""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)

# Languages of the prompts the gate sees most (and of the artists registered), in wordfreq's codes.
COMMON_ZIPF = 3.0  # the default policy's names.common_zipf: a word this frequent somewhere is common

LANGUAGES = (
    "en", "de", "fr", "es", "it", "pt", "nl", "sv", "nb", "da", "fi", "pl", "cs",
    "ru", "uk", "el", "tr", "ar", "he", "hi", "ja", "zh", "ko",
)


@lru_cache(maxsize=1)
def _table() -> dict[str, int]:
    """Canonical word → highest Zipf frequency × 10 over :data:`LANGUAGES`."""
    from stylegate.governance.screening.canonical import canonical_word

    try:
        import wordfreq
    except ImportError:  # pragma: no cover - declared dependency
        log.warning("wordfreq is not installed: no name token counts as a common word")
        return {}
    table: dict[str, int] = {}
    for lang in LANGUAGES:
        try:
            buckets = wordfreq.get_frequency_list(lang, wordlist="small")
        except (LookupError, OSError):  # pragma: no cover - a language missing from the data
            log.warning("wordfreq has no small word list for %r", lang)
            continue
        for index, words in enumerate(buckets):  # bucket i holds the words at -i centibels
            zipf10 = round(10 * wordfreq.cB_to_zipf(-index))
            if zipf10 <= 0:
                break
            for word in words:
                key = canonical_word(word)
                if key and zipf10 > table.get(key, 0):
                    table[key] = zipf10
    wordfreq.get_frequency_list.cache_clear()  # the raw lists are not needed any more
    log.debug("word frequencies: %d canonical words from %d languages", len(table), len(LANGUAGES))
    return table


def zipf(token: str) -> float:
    """Highest Zipf frequency of a canonical token over :data:`LANGUAGES` (0.0 when rare)."""
    return _table().get(token, 0) / 10.0


def load() -> None:
    """Read the word lists now (they are otherwise read on first use)."""
    _table()
