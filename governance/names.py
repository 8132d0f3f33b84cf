"""Lexical screening: find registered names and aliases in a prompt.

Every name and alias is reduced to its canonical token sequence; a prompt matches when a
window of consecutive prompt tokens, joined, equals a joined name key. Joining makes
"simon stalenhag", "simon_stalenhag", "SimonStalenhag" and "s i m o n stalenhag" the same
thing, and the window must start and end on token boundaries, so "ann" never fires inside
"banner". Multi-word names are also registered in reversed order ("Stalenhag Simon").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from stylegate.governance.canonical import Token, name_key, tokenize


@dataclass(frozen=True)
class NameHit:
    artist_id: int
    matched: str  # the registered name or alias that matched
    start: int  # span in the original prompt
    end: int
    score: float = 1.0
    how: str = "exact"


class NameMatcher:
    """An in-memory map from joined canonical name keys to artists."""

    def __init__(self, entries: Iterable[tuple[int, str]] = ()) -> None:
        self._keys: dict[str, list[tuple[int, str, str]]] = {}
        self._max_key_len = 0
        for artist_id, label in entries:
            self.add(artist_id, label)

    def add(self, artist_id: int, label: str) -> None:
        tokens = name_key(label)
        if not tokens:
            return
        self._register("".join(tokens), artist_id, label, "exact")
        if len(tokens) > 1:
            self._register("".join(reversed(tokens)), artist_id, label, "reversed")

    def _register(self, key: str, artist_id: int, label: str, how: str) -> None:
        bucket = self._keys.setdefault(key, [])
        if all(existing[0] != artist_id for existing in bucket):
            bucket.append((artist_id, label, how))
        self._max_key_len = max(self._max_key_len, len(key))

    def __len__(self) -> int:
        return len(self._keys)

    def find(self, prompt: str, tokens: list[Token] | None = None) -> list[NameHit]:
        """All name hits in ``prompt``, longest first where windows overlap for one artist."""
        tokens = tokenize(prompt) if tokens is None else tokens
        hits: dict[tuple[int, int, int], NameHit] = {}
        for i in range(len(tokens)):
            joined = ""
            for j in range(i, len(tokens)):
                joined += tokens[j].text
                if len(joined) > self._max_key_len:
                    break
                for artist_id, label, how in self._keys.get(joined, ()):
                    hit = NameHit(artist_id, label, tokens[i].start, tokens[j].end, 1.0, how)
                    hits[(artist_id, hit.start, hit.end)] = hit
        return sorted(hits.values(), key=lambda h: (h.start, -(h.end - h.start)))
