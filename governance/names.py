"""Lexical screening: find registered names and aliases in a prompt.

Every name and alias is reduced to its canonical token sequence (see ``canonical``); a
prompt matches when a window of consecutive prompt tokens, joined, equals a joined key.
Joining makes "simon stalenhag", "simon_stalenhag", "SimonStalenhag" and
"s i m o n stalenhag" the same thing, and windows start and end on token boundaries, so
"ann" never fires inside "banner". Each hit says how it matched (``NameHit.how``):

``exact``       the name or alias itself (score 1.0);
``reversed``    its tokens in another order: "Stalenhag Simon", "Lindqvist-Osei, Amara" (1.0);
``possessive``  followed by an "s": "Stalenhag's", "Stalenhags" (1.0);
``surname``     the surname alone ("by Stalenhag") when it is distinctive: five or more
                letters, not a common English word (see ``lexicon``), owned by one artist and
                nobody's given name; skipped right after another capitalised, uncommon word,
                which reads as someone else with that surname ("Chinedu Okonkwo") (0.9);
``fuzzy``       one insertion, deletion, substitution or transposition away from a name or
                alias of six or more letters without initials, in a window holding at least
                one token that is not a common English word (score ``1 - edits / len(key)``).

A one-word name or surname is not matched by several space-separated English words of two or
more letters ("quill feather", "marrow by" are prose; "QuillFeather", "quill_feather" and
"q u i l l f e a t h e r" still match).
Where hits overlap, each artist keeps its best one, and a fuzzy or surname hit gives way to
an exact hit of another artist on the same words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, NamedTuple

from stylegate.governance import lexicon
from stylegate.governance.canonical import Token, name_key, tokenize
from stylegate.governance.fuzzy import DeletionIndex

log = logging.getLogger(__name__)

SURNAME_SCORE = 0.9
MIN_SURNAME_LEN = 5
_STRONG = frozenset({"exact", "reversed", "possessive"})


@dataclass(frozen=True)
class NameHit:
    artist_id: int
    matched: str  # the registered name or alias that matched
    start: int  # span in the original prompt
    end: int
    score: float = 1.0
    how: str = "exact"


class _Entry(NamedTuple):
    artist_id: int
    label: str
    how: str
    single: bool  # the key is one name token (prose of spaced words must not match it)
    fuzzy: bool  # the key may match with one edit
    possessive: bool  # the key may match with a trailing "s"


class NameMatcher:
    """An in-memory map from joined canonical name keys to artists; cheap to add and remove."""

    def __init__(self, entries: Iterable[tuple[int, str]] = ()) -> None:
        self._keys: dict[str, list[_Entry]] = {}
        self._fuzzy = DeletionIndex()
        self._surnames: dict[str, dict[int, tuple[str, bool]]] = {}  # key → artist → (label, single)
        self._given: dict[str, set[int]] = {}  # first tokens of multi-word names → artists
        self._owned: dict[int, list[tuple[str, str]]] = {}  # artist → [(table, key)] to undo
        self._max_key_len = 0
        self._max_tokens = 1  # most tokens in a name or alias (bounds fuzzy windows)
        for artist_id, label in entries:
            self.add(artist_id, label)

    # ------------------------------------------------------------- registry
    def add(self, artist_id: int, label: str) -> None:
        """Register a name or alias of ``artist_id``; it matches from the next ``find``."""
        tokens = name_key(label)
        if not tokens:
            return
        joined = "".join(tokens)
        single = len(tokens) == 1
        self._max_tokens = max(self._max_tokens, len(tokens))
        fuzzy = all(len(t) > 1 for t in tokens)  # initials ("M. Okonkwo") never match fuzzily
        possessive = not single or (len(joined) >= 4 and not lexicon.is_word(joined))
        self._register(joined, _Entry(artist_id, label, "exact", single, fuzzy, possessive))
        if single:
            return
        for order in _other_orders(tokens):
            self._register("".join(order), _Entry(artist_id, label, "reversed", False, fuzzy, True))
        self._given.setdefault(tokens[0], set()).add(artist_id)
        self._owned.setdefault(artist_id, []).append(("given", tokens[0]))
        surname = "".join(tokens[1:])
        if len(surname) >= MIN_SURNAME_LEN and not lexicon.is_common(surname):
            self._surnames.setdefault(surname, {}).setdefault(artist_id, (label, len(tokens) == 2))
            self._owned[artist_id].append(("surname", surname))
            self._max_key_len = max(self._max_key_len, len(surname))

    def remove(self, artist_id: int) -> None:
        """Forget every name, alias and surname of ``artist_id``."""
        for table, key in self._owned.pop(artist_id, []):
            if table == "key":
                kept = []
                for entry in self._keys.get(key, ()):
                    if entry.artist_id != artist_id:
                        kept.append(entry)
                    elif entry.fuzzy:
                        self._fuzzy.discard(key)
                if kept:
                    self._keys[key] = kept
                else:
                    self._keys.pop(key, None)
            elif table == "given":
                owners = self._given.get(key, set())
                owners.discard(artist_id)
                if not owners:
                    self._given.pop(key, None)
            else:
                by_artist = self._surnames.get(key, {})
                by_artist.pop(artist_id, None)
                if not by_artist:
                    self._surnames.pop(key, None)

    def replace(self, artist_id: int, labels: Iterable[str]) -> None:
        """Rename: drop the artist's names and register ``labels`` instead."""
        self.remove(artist_id)
        for label in labels:
            self.add(artist_id, label)

    def _register(self, key: str, entry: _Entry) -> None:
        bucket = self._keys.setdefault(key, [])
        if any(existing.artist_id == entry.artist_id for existing in bucket):
            return
        if entry.fuzzy and not self._fuzzy.add(key):
            entry = entry._replace(fuzzy=False)
        bucket.append(entry)
        self._owned.setdefault(entry.artist_id, []).append(("key", key))
        self._max_key_len = max(self._max_key_len, len(key))

    def __len__(self) -> int:
        return len(self._keys)

    # ------------------------------------------------------------- matching
    def find(self, prompt: str, tokens: list[Token] | None = None) -> list[NameHit]:
        """Every name hit in ``prompt``, in order of position (see the module doc for rules)."""
        tokens = tokenize(prompt) if tokens is None else tokens
        if not tokens or not self._keys:
            return []
        words = lexicon.frequencies()
        texts = [t.text for t in tokens]
        is_word = [t in words for t in texts]
        common = [words.get(t, 0) >= lexicon.COMMON_FREQUENCY for t in texts]
        spaced = [False] + [
            any(c.isspace() for c in prompt[tokens[k - 1].end : tokens[k].start]) for k in range(1, len(tokens))
        ]
        keys, fuzzy = self._keys, self._fuzzy
        longest = self._max_key_len + 1
        # A misspelt name spans at most a few more tokens than the longest name (camelCase or
        # case tricks split words); letter-by-letter spacing is matched exactly, not fuzzily.
        fuzzy_tokens = self._max_tokens + 3
        searched: dict[str, list[tuple[str, int]]] = {}
        hits: list[NameHit] = []
        for i in range(len(tokens)):
            joined = ""
            all_common = wordy = True  # every token is a common word / a word of two or more letters
            spaced_out = False
            for j in range(i, len(tokens)):
                text = texts[j]
                joined += text
                if len(joined) > longest:
                    break
                spaced_out = spaced_out or (j > i and spaced[j])
                all_common = all_common and common[j]
                wordy = wordy and is_word[j] and len(text) >= 2
                prose = spaced_out and wordy
                start, end = tokens[i].start, tokens[j].end
                entries = keys.get(joined)
                if entries:
                    found = False
                    for e in entries:
                        if not (e.single and prose):
                            hits.append(NameHit(e.artist_id, e.label, start, end, 1.0, e.how))
                            found = True
                    if found:
                        continue
                if joined[-1] == "s" and len(joined) > 4:
                    for e in keys.get(joined[:-1], ()):
                        if e.possessive and not (e.single and prose):
                            hits.append(NameHit(e.artist_id, e.label, start, end, 1.0, "possessive"))
                    self._surname(hits, joined[:-1], prose, prompt, tokens, i, j)
                self._surname(hits, joined, prose, prompt, tokens, i, j)
                if not all_common and j - i < fuzzy_tokens and fuzzy.may_match(len(joined)):
                    if joined not in searched:
                        searched[joined] = fuzzy.search(joined)
                    for key, edits in searched[joined]:
                        score = 1.0 - edits / len(key)
                        for e in keys.get(key, ()):
                            if e.fuzzy:
                                hits.append(NameHit(e.artist_id, e.label, start, end, score, "fuzzy"))
        return _best(hits)

    def _surname(
        self, hits: list[NameHit], key: str, prose: bool, prompt: str, tokens: list[Token], i: int, j: int
    ) -> None:
        owners = self._surnames.get(key)
        if not owners or len(owners) != 1 or key in self._given or key in self._keys:
            return
        (artist_id, (label, single)), = owners.items()
        if single and prose:
            return
        if i > 0 and _someone_else(prompt, tokens[i - 1], tokens[i]):
            return
        hits.append(NameHit(artist_id, label, tokens[i].start, tokens[j].end, SURNAME_SCORE, "surname"))


def _other_orders(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Surname-first rotations and the full reversal of a multi-word name."""
    orders = {tokens[k:] + tokens[:k] for k in range(1, len(tokens))}
    orders.add(tuple(reversed(tokens)))
    orders.discard(tokens)
    return sorted(orders)


def _someone_else(prompt: str, before: Token, first: Token) -> bool:
    """Whether the word before a surname is a capitalised given name of another person."""
    gap = prompt[before.end : first.start]
    if gap.strip():  # punctuation between them: "painting, Okonkwo"
        return False
    return prompt[before.start : before.start + 1].isupper() and not lexicon.is_common(before.text)


def _best(hits: list[NameHit]) -> list[NameHit]:
    """Each artist's best hit where its hits overlap; weak hits yield to others' strong hits."""
    order = sorted(hits, key=lambda h: (-h.score, h.how not in _STRONG, -(h.end - h.start), h.start))
    kept: list[NameHit] = []
    for hit in order:
        strong = hit.how in _STRONG
        clash = any(
            other.start < hit.end
            and hit.start < other.end
            and (other.artist_id == hit.artist_id or (not strong and other.how in _STRONG))
            for other in kept
        )
        if not clash:
            kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, -(h.end - h.start), h.artist_id))
