"""Phonetic and two-edit lookup of long name keys.

Each registered Latin key is filed under phonetic codes from jellyfish (Metaphone, with
one sound left out in turn, and NYSIIS), which survive most misspellings and
transliterations that keep a name's sound ("Aivazovskii" / "Aivazovsky", "Bong Joon-ho" /
"Bong Jun-ho", "Tsaroychis" / "Tsarouchis"). A query probes its codes and candidates are
verified with rapidfuzz's optimal-string-alignment distance: up to two
edits for keys of :data:`MIN_LEN` letters or more, and up to one edit per four letters
(at most three). About ten probes per query, whatever the number of keys; codes are held as hashes in
sorted arrays (``keyindex``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz.distance import OSA

from stylegate.governance.screening.keyindex import FiledKeys

log = logging.getLogger(__name__)

# Keys shorter than this never match with two edits (a short name two edits away is another word).
MIN_LEN = 10
MAX_EDITS = 3


def allowed_edits(key_len: int) -> int:
    """Most edits allowed for a key of ``key_len`` characters once its sound agrees."""
    if key_len < MIN_LEN:
        return 0
    return min(MAX_EDITS, max(2, key_len // 4))


def codes(word: str) -> set[str]:
    """The probes a word is filed under: its NYSIIS code, its Metaphone code and that code
    with any one sound left out, so names whose Metaphone codes differ by one sound (a
    transliteration's "y" for "u", an extra "i") still meet."""
    import jellyfish

    metaphone = jellyfish.metaphone(word)
    out = {"n:" + jellyfish.nysiis(word), "m:" + metaphone}
    if len(metaphone) >= 4:
        out.update("m:" + metaphone[:i] + metaphone[i + 1 :] for i in range(len(metaphone)))
    return out


class PhoneticIndex(FiledKeys):
    """Latin keys of :data:`MIN_LEN` or more letters, filed by their phonetic codes (compactly: ``keyindex``)."""

    slack = MAX_EDITS

    def __init__(self) -> None:
        super().__init__(codes)

    def accepts(self, key: str) -> bool:
        """Latin keys of :data:`MIN_LEN` or more letters."""
        return len(key) >= MIN_LEN and key.isascii() and key.isalpha()

    def search(self, query: str) -> list[tuple[str, int]]:
        """Keys that sound like ``query`` within their allowed edits, with the edit distance (never 0)."""
        if not (query.isascii() and query.isalpha()):
            return []
        return _verify(query, self._index.candidates(codes(query)))

    def search_many(self, queries: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """:meth:`search` for several queries in one vectorised lookup."""
        import numpy as np

        queries = list(queries)
        latin = [q for q in queries if q.isascii() and q.isalpha()]
        owner: list[int] = []
        hashes: list[int] = []
        for k, q in enumerate(latin):
            probes = _probe_hashes(q)
            owner.extend([k] * len(probes))
            hashes.extend(probes)
        found = self._index.candidates_hashed(
            latin, np.array(owner, dtype=np.int64), np.array(hashes, dtype=np.int64)
        ) if latin else {}
        return {q: _verify(q, found.get(q, ())) for q in queries}


@lru_cache(maxsize=65536)
def _probe_hashes(query: str) -> tuple[int, ...]:
    """The hashes of a query's :func:`codes` (the codes a key is filed under are hashed alike);
    prompts repeat their words, so each is coded once."""
    return tuple({hash(c) for c in codes(query)})


def _verify(query: str, keys: Iterable[str]) -> list[tuple[str, int]]:
    out = []
    for key in keys:
        limit = allowed_edits(len(key))
        if abs(len(key) - len(query)) > limit:
            continue
        distance = OSA.distance(query, key, score_cutoff=limit)
        if 0 < distance <= limit:
            out.append((key, distance))
    return out


def another_syllable(span_script: str, span_end_script: str, label: str) -> bool:
    """Whether a sound-alike is another name written syllable by syllable in the name's own script.

    In Hangul and Han a name is a few syllables, one a character ("김정기"); a window in that
    same script that differs from it is a different character, so a different name
    ("김정호", Kim Jeong-ho the cartographer), not a misspelling: people misspell
    romanisations, not the characters of a name. (A Hangul window against a name
    registered in Latin letters is still compared.)
    """
    from stylegate.governance.screening.scripts import is_unspaced, scripts_in

    return is_unspaced(span_script) and span_script == span_end_script and span_script in scripts_in(label)


def forget_probes() -> None:
    """Empty the cache of query probes (a benchmark's cold start; results do not change)."""
    _probe_hashes.cache_clear()
