"""Single-edit fuzzy lookup of name keys through a deletion-neighbourhood index.

Every registered key is stored under itself and under each string made by deleting one of
its characters. A query probes itself and each of its own single deletions: a key within one
insertion, deletion, substitution or transposition of the query shares at least one probe
(a substitution or a transposition leaves the same string once the differing position is
deleted from both). Candidates are then verified with the optimal-string-alignment distance
from rapidfuzz, so a transposition counts as one edit. Looking up a query costs
``len(query) + 1`` dictionary probes, whatever the number of registered keys.
"""

from __future__ import annotations

import logging
from typing import Iterator

from rapidfuzz.distance import OSA

log = logging.getLogger(__name__)

# Keys shorter than this never match fuzzily: one edit in a short name is another word.
MIN_FUZZY_LEN = 6


def max_edits(key_len: int) -> int:
    """Edits allowed for a key of ``key_len`` characters (length-aware threshold)."""
    return 1 if key_len >= MIN_FUZZY_LEN else 0


def _probes(word: str) -> Iterator[str]:
    yield word
    for i in range(len(word)):
        yield word[:i] + word[i + 1 :]


class DeletionIndex:
    """Keys indexed by their single-deletion neighbourhood.

    Probes are stored by their hash (an int is half the size of the string), and a probe
    with one key holds the key itself rather than a tuple: a collision only adds a
    candidate, which the distance check then refuses.
    """

    def __init__(self) -> None:
        self._index: dict[int, str | tuple[str, ...]] = {}
        self._count: dict[str, int] = {}  # key → number of owners that registered it
        self.min_len = 0
        self.max_len = 0

    def __len__(self) -> int:
        return len(self._count)

    def __contains__(self, key: str) -> bool:
        return key in self._count

    def add(self, key: str) -> bool:
        """Index ``key`` (reference counted); False when it is too short to match fuzzily."""
        if max_edits(len(key)) == 0:
            return False
        if key in self._count:
            self._count[key] += 1
            return True
        self._count[key] = 1
        index = self._index
        for probe in {hash(p) for p in _probes(key)}:
            held = index.get(probe)
            if held is None:
                index[probe] = key
            else:
                index[probe] = (held, key) if isinstance(held, str) else held + (key,)
        self.min_len = len(key) if len(self._count) == 1 else min(self.min_len, len(key))
        self.max_len = max(self.max_len, len(key))
        return True

    def discard(self, key: str) -> None:
        """Drop one reference to ``key``; the key leaves the index with its last reference."""
        count = self._count.get(key, 0)
        if count > 1:
            self._count[key] = count - 1
            return
        if count == 0:
            return
        del self._count[key]
        for probe in {hash(p) for p in _probes(key)}:
            held = self._index.get(probe)
            remaining = tuple(k for k in ((held,) if isinstance(held, str) else held or ()) if k != key)
            if len(remaining) > 1:
                self._index[probe] = remaining
            elif remaining:
                self._index[probe] = remaining[0]
            else:
                self._index.pop(probe, None)

    def may_match(self, length: int) -> bool:
        """Whether a query of ``length`` characters can be within one edit of some key."""
        return bool(self._count) and self.min_len - 1 <= length <= self.max_len + 1

    def search(self, query: str) -> list[tuple[str, int]]:
        """Keys within their allowed edits of ``query``, with the edit distance (never 0)."""
        get = self._index.get
        found: set[str] = set()
        for probe in _probes(query):
            hit = get(hash(probe))
            if hit is None:
                continue
            if isinstance(hit, str):
                found.add(hit)
            else:
                found.update(hit)
        out = []
        for key in found:
            limit = max_edits(len(key))
            distance = OSA.distance(query, key, score_cutoff=limit)
            if 0 < distance <= limit:
                out.append((key, distance))
        return out
