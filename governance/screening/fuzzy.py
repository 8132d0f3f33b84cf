"""Single-edit fuzzy lookup of name keys through a deletion-neighbourhood index.

Every registered key is stored under itself and under each string made by deleting one of
its characters. A query probes itself and each of its own single deletions: a key within one
insertion, deletion, substitution or transposition of the query shares at least one probe
(a substitution or a transposition leaves the same string once the differing position is
deleted from both). Candidates are then verified with the optimal-string-alignment distance
from rapidfuzz, so a transposition counts as one edit. Looking up a query costs
``len(query) + 1`` probes, binary searches in sorted hash arrays (``keyindex``), whatever
the number of registered keys. The probes of keys and queries alike are hashed in
vectorised batches without making the strings (``codehash``): a key added to a live index
is hashed with the next lookup.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from rapidfuzz.distance import OSA

from stylegate.governance.screening.codehash import hash_words
from stylegate.governance.screening.keyindex import FiledKeys

log = logging.getLogger(__name__)

# Keys shorter than this never match fuzzily: one edit in a short name is another word.
MIN_FUZZY_LEN = 6


def max_edits(key_len: int) -> int:
    """Edits allowed for a key of ``key_len`` characters (length-aware threshold)."""
    return 1 if key_len >= MIN_FUZZY_LEN else 0


# Katakana spells a foreign name with the sounds Japanese has: one sound for "l" and "r"
# (ri for li), none for "v" (bu for vu), a vowel after every consonant ("Kuvshinov" is
# ku-bu-shi-no-bu). Read back through anyascii, "iriya kubushinobu" keeps the consonants of
# "ilya kuvshinov" once v is read as b, and r, l (keys fold it to "i"), vowels, glides and
# doubled letters are dropped.
_KANA_FOLD = str.maketrans({"r": "", "l": "", "v": "b", "w": "", "y": "", "h": "", "j": "z", "c": "k", "q": "k", "x": "ks"})
KANA_MIN_CONSONANTS = 5


# The fold and the vowels' removal in one pass (the fold never writes a vowel).
_KANA_CONSONANTS = str.maketrans({**{chr(k): v for k, v in _KANA_FOLD.items()}, **dict.fromkeys("aeiou")})
_KANA_REPEAT = re.compile(r"(.)\1+")


def kana_skeleton(word: str) -> str:
    """The consonants of a Latin word as a katakana spelling keeps them (see above): vowels
    dropped, then each run of one consonant read once."""
    out = word.translate(_KANA_CONSONANTS)
    return _KANA_REPEAT.sub(_first, out) if _KANA_REPEAT.search(out) else out


def _first(m: re.Match[str]) -> str:
    return m.group(1)


_KANA_SALT = 0x6B616E61  # kana skeleton codes live apart from deletion codes


def _bulk_codes(keys: list[str]) -> tuple[Any, Any]:
    """Every key's deletion neighbourhood and (Latin keys) its kana skeleton, hashed in one batch."""
    import numpy as np

    owner, hashes = hash_words(keys, deletions=True)
    latin = [(k, s) for k, key in enumerate(keys) if key.isascii() and key.isalpha()
             and len(s := kana_skeleton(key)) >= KANA_MIN_CONSONANTS]
    if not latin:
        return owner, hashes
    kana_owner, kana_hashes = hash_words([s for _, s in latin], salt=_KANA_SALT)
    at = np.fromiter((k for k, _ in latin), dtype=np.int64, count=len(latin))
    return np.concatenate([owner, at[kana_owner]]), np.concatenate([hashes, kana_hashes])


class DeletionIndex(FiledKeys):
    """Keys indexed by their single-deletion neighbourhood.

    Probes are held as 64-bit hashes in sorted arrays (see ``keyindex``): a collision only
    adds a candidate, which the distance check then refuses.
    """

    slack = 1  # a query within one edit of a key is at most one letter longer or shorter

    def __init__(self) -> None:
        super().__init__(bulk=_bulk_codes)

    def accepts(self, key: str) -> bool:
        """Keys too short to match fuzzily are refused (see :func:`max_edits`)."""
        return max_edits(len(key)) > 0

    def search(self, query: str) -> list[tuple[str, int]]:
        """Keys within their allowed edits of ``query``, with the edit distance (never 0)."""
        return self.search_many([query])[query]

    def search_many(self, queries: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """:meth:`search` for several queries in one vectorised lookup."""
        asked = list(dict.fromkeys(queries))
        found = self._index.candidates_hashed(asked, *hash_words(asked, deletions=True))
        return {q: _verify(q, keys) for q, keys in found.items()}

    def search_kana(self, queries: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """Keys spelt the way each katakana reading (in Latin) is, with their edit distance."""
        skeletons = {q: kana_skeleton(q) for q in queries if q.isascii() and q.isalpha()}
        asked = [q for q, s in skeletons.items() if len(s) >= KANA_MIN_CONSONANTS]
        found = self._index.candidates_hashed(asked, *hash_words([skeletons[q] for q in asked], salt=_KANA_SALT))
        return {
            q: [(k, d) for k in sorted(keys) if k != q and kana_skeleton(k) == skeletons[q]
                and (d := OSA.distance(q, k)) <= len(k) // 2]
            for q, keys in found.items()
        }


def _verify(query: str, keys: Iterable[str]) -> list[tuple[str, int]]:
    out = []
    for key in keys:
        limit = max_edits(len(key))
        distance = OSA.distance(query, key, score_cutoff=limit)
        if 0 < distance <= limit:
            out.append((key, distance))
    return out
