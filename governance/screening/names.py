"""Lexical screening: find registered names and aliases in a prompt.

Every name and alias is reduced to its canonical token sequence (see ``canonical``), in the
script it is written in and, for a non-Latin name, also in its Latin transliteration. A
prompt is read three ways: as written (mixed-script words folded to Latin, honest words kept
in their script, unspaced scripts one character per token), with whole-word look-alikes read
as Latin, and transliterated to Latin. A prompt matches when a window of consecutive
tokens, joined, equals a joined key. Joining makes "simon stalenhag", "simon_stalenhag",
"SimonStalenhag" and "s i m o n stalenhag" the same thing, and windows start and end on
token boundaries, so "ann" never fires inside "banner". Each hit says how it matched
(``NameHit.how``):

``exact``       the name or alias itself (score 1.0);
``reversed``    its tokens in another order: "Stalenhag Simon", "Lindqvist-Osei, Amara" (1.0);
``possessive``  followed by an "s": "Stalenhag's", "Stalenhags" (1.0);
``surname``     the surname alone ("by Stalenhag") when it is owned by one artist and
                nobody's given name, and five or more letters; skipped right after another
                capitalised, uncommon word or another person's frequent given name, which
                reads as someone else with that surname ("Chinedu Okonkwo", "Maxim Gorky";
                see ``screening.givennames``) (0.9);
``inflection``  a case ending on a one-word name or surname: "Rutkowskiego", "Кувшиновой"
                (see ``screening.inflection``; 0.9);
``fuzzy``       one insertion, deletion, substitution or transposition away from a name or
                alias of six or more letters without initials, in a window holding at least
                one token that is not a common English word (score ``1 - edits / len(key)``);
``phonetic``    two (or, for long names, up to one per five letters) edits away from a name
                of ten or more letters that sounds the same (see ``screening.phonetic``);
``given``       a rare given name of one artist alone, next to a strong style cue only ("in
                the style of Junji"; rule ``given``, see :meth:`NameMatcher._given_alone`);
``variant``     the given name exactly, then a romanisation variant of the surname ("Arkhip
                Kuinji", "Хелене Шерфбек"): up to 40% of the surname's letters edited (rule
                ``phonetic``; see :meth:`NameMatcher._variants`);
``skeleton``    a whole multi-word name written in another script, on the consonant classes
                its transliteration keeps ("로메로 브리토", "שירין נשאט" for Latin-registered
                names; rule ``skeleton``, see ``screening.skeleton``; 0.8 less per edit);
                next to a style cue also a surname alone in another script
                (``skeleton-surname``) and a misspelt Latin surname alone with the
                surname's consonant skeleton (``skeleton-misspelt``).

A hit's *rule* (``full-name``, ``single``, ``surname``, ``inflection``, ``fuzzy``,
``phonetic``, ``skeleton``) and whether the matched word is common decide, through :class:`NameRules`
(the policy's ``[names]``), whether it needs context: a style cue or an obfuscation (see
``screening.cues``). A full multi-word name stands alone; by default a one-word name or a
surname that is a common word ("Queen", "Nielsen") needs context.

A one-word name or surname is not matched by several space-separated English words of two or
more letters ("quill feather", "marrow by" are prose; "QuillFeather", "quill_feather" and
"q u i l l f e a t h e r" still match).
Where hits overlap, each artist keeps its best one, and a fuzzy or surname hit gives way to
an exact hit of another artist on the same words.
"""

from __future__ import annotations

import gc
import logging
import re
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple, TypeVar

from stylegate.governance.screening import cues, frequency, givennames, inflection, lexicon, places
from stylegate.governance.screening.canonical import (
    Token,
    canonical_word,
    forget_chunks,
    latin_key,
    latin_tokens,
    look_alike_tokens,
    name_key,
    name_tokens,
    other_latin_tokens,
    plain_word_key,
    tokenize,
)
from stylegate.governance.screening.fuzzy import DeletionIndex
from stylegate.governance.screening.inflection import InflectionIndex
from stylegate.governance.screening.keyindex import FiledKeys, release_freed_memory
from stylegate.governance.screening.keytable import KeyTable
from stylegate.governance.screening.ownertable import OwnerTable
from stylegate.governance.screening.packedstrings import PackedStrings
from stylegate.governance.screening.phonetic import MIN_LEN as PHONETIC_MIN_LEN
from stylegate.governance.screening.phonetic import PhoneticIndex, another_syllable, forget_probes
from stylegate.governance.screening.rules import DEFAULT_RULES, NameRules
from stylegate.governance.screening.scripts import LATIN, is_unspaced, script_of
from stylegate.governance.screening.skeleton import SKELETON_SCORE, SkeletonIndex
from stylegate.governance.screening.skeleton import STANDS_ALONE_LEN as SKELETON_ALONE_LEN

log = logging.getLogger(__name__)
_T = TypeVar("_T")


SURNAME_SCORE = 0.9
KANA_SCORE = 0.8
_KANA = frozenset({"KATAKANA", "HIRAGANA"})
INFLECTION_SCORE = 0.9
MIN_SURNAME_LEN = 5
# A name's word at least this common in some screened language (Zipf, wordfreq's small lists,
# whose floor it is) is an ordinary word for the attributive rule, whatever the policy's
# ``common_zipf``. Lower is no use: famous artists' own names sit at Zipf 1.6-2.9 in the
# large lists ("Hokusai" 2.4, "Mondrian" 2.5, "Kandinsky" 2.9), with "Möbius" (2.9) among them.
ATTRIBUTIVE_MIN_ZIPF = 3.0
MIN_SHORT_SURNAME_LEN = 3
MIN_VARIANT_LEN = 5  # surnames shorter than this have no romanisation variants matched
VARIANT_SHARE = 0.4  # at most this share of a surname's letters edited in a variant
MAX_VARIANT_OWNERS = 32
MIN_GIVEN_LEN = 4  # a given name alone, shorter than this, is matched by nobody
GIVEN_MAX_ZIPF = 2.0  # a given name alone must be rarer than this in every screened language
GIVEN_SCORE = 0.8  # a given name this common says too little about whose surname follows
_STRONG = frozenset({"exact", "reversed", "possessive"})
AS_WRITTEN = "as written"
TRANSLITERATION = "transliteration"
LOOK_ALIKE = "look-alike"


@dataclass(frozen=True)
class NameHit:
    artist_id: int
    matched: str  # the registered name or alias that matched
    start: int  # span in the original prompt
    end: int
    score: float = 1.0
    how: str = "exact"
    rule: str = "full-name"  # full-name | single | surname | inflection | fuzzy | phonetic | given
    via: str = AS_WRITTEN  # as written | transliteration | look-alike
    common: bool = False  # the matched word is a common word, brand, place or surname
    cue: str = ""  # the style cue next to it ("in the style of", "#", "風"), if any
    obfuscation: str = ""  # how the span was disguised ("leetspeak", "split letters"), if at all
    edits: int = 0  # edit distance for fuzzy and phonetic hits
    key: str = ""  # the canonical key that matched (a surname, a one-word name), for its commonness
    reading: str = ""  # rule skeleton: the prompt's words in Latin letters
    skeleton: str = ""  # rule skeleton: their consonant skeleton
    dropped: str = ""  # why the candidate was dropped while matching ("another person's name: …"), if it was

    def describe(self) -> str:
        """The rule and its evidence in one line: "name:surname (common word; cue 'w stylu')"."""
        parts = []
        if self.via != AS_WRITTEN:
            parts.append(f"via {self.via}")
        if self.common:
            parts.append("common word")
        if self.cue:
            parts.append(f"cue {self.cue!r}")
        if self.obfuscation:
            parts.append(f"obfuscation: {self.obfuscation}")
        if self.edits:
            parts.append(f"{self.edits} edit{'s' if self.edits > 1 else ''}")
        return f"name:{self.how}" + (f" ({'; '.join(parts)})" if parts else "")

    def evidence(self) -> dict[str, object]:
        """What the hit rests on, for the decision's explanation."""
        out: dict[str, object] = {"how": self.how, "rule": self.rule, "via": self.via}
        if self.common:
            out["common_word"] = True
        if self.cue:
            out["cue"] = self.cue
        if self.obfuscation:
            out["obfuscation"] = self.obfuscation
        if self.edits:
            out["edits"] = self.edits
        if self.skeleton:
            out["transliteration"] = self.reading
            out["skeleton"] = self.skeleton
        return out


class _Entry(NamedTuple):
    artist_id: int
    label: str
    how: str
    single: bool  # the key is one name token (prose of spaced words must not match it)
    fuzzy: bool  # the key may match with one edit
    possessive: bool  # the key may match with a trailing "s"
    via: str = AS_WRITTEN  # the key is the label as written, or its transliteration
    parts: int = 1  # words in the key


class _Answers(NamedTuple):
    """What the registry answered for one prompt's readings (see ``NameMatcher._look_up``)."""

    fuzzy: dict[str, list[tuple[str, int]]]
    sound: dict[str, list[tuple[str, int]]]
    kana: dict[str, list[tuple[str, int]]]
    stems: dict[str, set[str]]


class _Stream(NamedTuple):
    """One reading of a prompt (as written, look-alikes read as Latin, transliterated) and its windows."""

    tokens: list[Token]
    via: str
    texts: list[str]
    windows: list[tuple[int, int, str, bool, bool, int, bool]]  # i, j, joined, prose, all common, words, lone letter
    to_search: set[str]  # fuzzy queries
    to_sound: set[str]  # sound-alike queries
    spelt: set[str]  # katakana readings


_HOWS = ("exact", "reversed")
_VIAS = (AS_WRITTEN, TRANSLITERATION)

# An entry is packed into one int (a million names hold a few million of them):
# label id << 12 | parts << 6 | reversed << 5 | transliterated << 4 | single << 3 | fuzzy << 2 | possessive << 1.
_LABEL_SHIFT = 12


_GIVEN_SEEN_MAX = 4096  # given names whose owners are kept between prompts
_TRIM_AFTER = 50_000  # labels in a build after which its freed heap is given back to the system


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic collector paused while a build allocates millions of objects, none cyclic.

    Otherwise it walks every object the build has made so far, again and again as they
    accumulate; reference counting frees the build's temporaries either way.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _filed(held: int | list[int] | None) -> Sequence[int]:
    """The values :func:`_file` filed under a key (``held`` is what the table holds for it)."""
    if held is None:
        return ()
    return (held,) if isinstance(held, int) else held


def _pack(label_id: int, how: str, single: bool, fuzzy: bool, possessive: bool, via: str, parts: int) -> int:
    return (
        label_id << _LABEL_SHIFT | min(parts, 63) << 6 | (how == "reversed") << 5 | (via == TRANSLITERATION) << 4
        | single << 3 | fuzzy << 2 | possessive << 1
    )


class NameMatcher:
    """An in-memory map from joined canonical name keys to artists; cheap to add and remove.

    Storage is compact for registries of a million names: every label is held once, an
    entry is one packed int (see :func:`_pack`), the fuzzy, phonetic and stem codes are
    hashes in sorted arrays (``keyindex``), and what an artist owns is derived again from
    its labels when it is removed rather than remembered.
    """

    def __init__(self, entries: Iterable[tuple[int, str]] = ()) -> None:
        self._keys = KeyTable()  # joined key → packed entries (sorted hash arrays, see ``keytable``)
        self._n_keys = 0  # distinct keys with a live entry
        self._fuzzy = DeletionIndex()
        self._phonetic = PhoneticIndex()
        self._inflect = InflectionIndex()
        self._skeletons = SkeletonIndex()  # cross-script whole names (``screening.skeleton``)
        # Surname → label id << 1 | two-word name; first token of a multi-word name → label id
        # (rows verified against their label when read, see ``ownertable``).
        self._surnames = OwnerTable()
        self._given = OwnerTable()
        self._given_seen: dict[str, list[int]] = {}  # given name → its first owners (see _given_owners)
        self._label_artist = array("q")  # label id → artist
        self._label_text = PackedStrings()  # label id → label (None once removed)
        # Artist → label ids: the build's as two arrays sorted by artist (a removed label's
        # text is None, so it is skipped), labels added since in a dictionary.
        self._built_artists = array("q")
        self._built_labels = array("i")
        self._artist_labels: dict[int, list[int]] = {}  # artist → label ids added after the build
        self._max_key_len = 0
        self._max_tokens = 1  # most tokens in a name or alias (bounds fuzzy windows)
        # What the registry answers for a window's text (its entries, fuzzy and sound-alike
        # keys, stems), kept across prompts, which repeat most of their windows; a new dict
        # on every registry change (see :meth:`_lookups`).
        self._memo: dict[str, dict] = {}
        self._stale: list[dict] = []  # memos let go of, freed a little per prompt (see :meth:`_let_go`)
        # While the constructor registers ``entries``, the keys of the fuzzy, phonetic and
        # inflection indexes are only listed here; they are filed on first use (see
        # :meth:`ensure_built`), so the exact tables are ready first.
        self._deferred: tuple[list[str], list[str], list[str]] | None = ([], [], [])
        self._unbuilt: tuple[list[str], list[str], list[str]] | None = None
        words: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}  # this build's word cache
        plain: dict[str, str | None] = {}  # this build's plain words → their key (None: not plain)
        with _gc_paused():
            for artist_id, label in entries:
                pair = _plain_pair(label, plain)
                if pair is not None:
                    self._add_pair(artist_id, label, *pair)
                else:
                    self._add(artist_id, label, _build_ops(label, words))
            del words, plain
            self._settle_keys()
        if len(self._label_text) >= _TRIM_AFTER:
            release_freed_memory()  # the build's temporaries, given back (see ``keyindex``)
        deferred, self._deferred = self._deferred, None
        if any(deferred):
            self._unbuilt = deferred

    def _settle_keys(self) -> None:
        """Sort the build's key rows into the packed table; list the fuzzy keys among those kept."""
        import numpy as np

        artists = np.frombuffer(self._label_artist, dtype=np.int64)
        kept, codes = self._keys.settle(lambda c: artists[c >> _LABEL_SHIFT])
        self._surnames.settle()
        self._given.settle()
        self._label_text.pack()
        order = np.argsort(artists, kind="stable")
        self._built_artists = array("q", artists[order].tobytes())
        self._built_labels = array("i", order.astype(np.int32).tobytes())  # label ids < 2**31
        del order
        assert self._deferred is not None
        fuzzy = self._deferred[0]
        fuzzy.extend(key for key, code in zip(kept, codes.tolist()) if code & 4)
        self._n_keys = self._keys.distinct()

    def ensure_built(self) -> None:
        """Build the fuzzy, phonetic and inflection indexes if the constructor left them unbuilt.

        The exact tables are ready when the constructor returns; every lookup, addition and
        removal calls this first, so no prompt is ever screened by a partly built matcher.
        A caller that wants the first prompt fast calls it right after construction. (A
        background thread was tried: with the GIL it saved no time, and its own malloc arena
        added 4 to 80 MB.)
        """
        unbuilt, self._unbuilt = self._unbuilt, None
        if unbuilt is None:
            return
        fuzzy, phonetic, inflect = unbuilt
        with _gc_paused():
            self._fuzzy.add_many(fuzzy)
            self._phonetic.add_many(phonetic)
            self._inflect.add_many(inflect)
            del fuzzy, phonetic, inflect, unbuilt
            self._settle()
        if len(self._label_text) >= _TRIM_AFTER:
            release_freed_memory()

    @property
    def fully_built(self) -> bool:
        """Whether the fuzzy, phonetic and inflection indexes are built."""
        return self._unbuilt is None

    def _settle(self) -> None:
        """Sort the bulk of what was added into the compact indexes (see ``keyindex``)."""
        self._fuzzy.settle()
        self._phonetic.settle()
        self._inflect.settle()
        self._skeletons.settle()

    # ------------------------------------------------------------- registry
    def add(self, artist_id: int, label: str) -> None:
        """Register a name or alias of ``artist_id``; it matches from the next ``find``.

        A label with no usable key is skipped with a warning (the registry refuses such
        labels up front through ``screening.claims.claim_keys``).
        """
        self.ensure_built()
        try:
            self._add(artist_id, label, _ops(label))
        finally:
            self._let_go()

    def _add(self, artist_id: int, label: str, ops: tuple[tuple, ...]) -> None:
        if not ops:
            log.warning("name %r of artist %s has no canonical form; it cannot be matched", label, artist_id)
            return
        label_id = len(self._label_text)
        self._label_artist.append(artist_id)
        self._label_text.append(label)
        if self._deferred is None:
            self._artist_labels.setdefault(artist_id, []).append(label_id)
        self._skeletons.add(label_id, label)  # --- skeleton hook (a removed label is skipped by its text)
        for op in ops:
            kind = op[0]
            if kind == "key":
                _, key, how, single, fuzzy, possessive, via, parts, n_tokens = op
                self._max_tokens = max(self._max_tokens, n_tokens)
                self._register(key, artist_id, label_id, how, single, fuzzy, possessive, via, parts)
            elif kind == "phonetic":
                if self._deferred is not None:
                    self._deferred[1].append(op[1])
                else:
                    self._phonetic.add(op[1])
            elif kind == "inflect":
                if self._deferred is not None:
                    self._deferred[2].append(op[1])
                else:
                    self._inflect.add(op[1])
            elif kind == "given":
                if self._deferred is not None:
                    self._given.file_bulk(op[1], label_id)
                else:
                    self._given.add(op[1], label_id)
                    self._given_seen.clear()
            else:  # surname
                _, surname, two_words = op
                self._max_key_len = max(self._max_key_len, len(surname))
                if self._deferred is not None:
                    self._surnames.file_bulk(surname, label_id << 1 | two_words)
                else:
                    self._surnames.add(surname, label_id << 1 | two_words)

    def _add_pair(self, artist_id: int, label: str, given: str, surname: str) -> None:
        """:meth:`_add` during a build of a label of two plain words, keys ``given`` and ``surname``.

        What :func:`_ops` files for such a label, filed without making its operations: the
        joined key, its reversal, the phonetic key, the given name, the surname and its stems
        (``tests/test_screening_build.py`` checks the two paths file the same rows).
        """
        assert self._deferred is not None
        label_id = len(self._label_text)
        self._label_artist.append(artist_id)
        self._label_text.append(label)
        self._skeletons.add(label_id, label)
        joined = given + surname
        fuzzy = len(given) > 1 and len(surname) > 1
        self._max_tokens = max(self._max_tokens, 2)
        self._max_key_len = max(self._max_key_len, len(joined))
        # _pack(label_id, how, single=False, fuzzy, possessive=True, AS_WRITTEN, parts=2)
        code = label_id << _LABEL_SHIFT | 2 << 6 | (fuzzy and self._fuzzy.accepts(joined)) << 2 | 1 << 1
        self._keys.file_bulk(joined, code)
        if fuzzy:
            self._deferred[1].append(joined)
        if given != surname:
            self._keys.file_bulk(surname + given, code | 1 << 5)  # reversed
        self._given.file_bulk(given, label_id)
        if len(surname) >= MIN_SHORT_SURNAME_LEN:  # _surnames_of: a surname of one token
            self._surnames.file_bulk(surname, label_id << 1 | 1)
            self._deferred[2].append(surname)

    def _register(
        self, key: str, artist_id: int, label_id: int, how: str, single: bool, fuzzy: bool, possessive: bool,
        via: str, parts: int,
    ) -> None:
        self._max_key_len = max(self._max_key_len, len(key))
        if self._deferred is not None:  # a build: one entry per artist and key is kept on settling
            fuzzy = fuzzy and self._fuzzy.accepts(key)
            self._keys.file_bulk(key, _pack(label_id, how, single, fuzzy, possessive, via, parts))
            return
        held = self._live(key)
        if any(self._label_artist[c >> _LABEL_SHIFT] == artist_id for c in held):
            return
        if fuzzy and not self._fuzzy.add(key):
            fuzzy = False
        if not held:
            self._n_keys += 1
        self._keys.add(key, _pack(label_id, how, single, fuzzy, possessive, via, parts))

    def _labels_of(self, artist_id: int) -> list[int]:
        """The registered label ids of ``artist_id``, in the order added."""
        artists = self._built_artists
        lo = bisect_left(artists, artist_id)
        hi = bisect_right(artists, artist_id, lo)
        text = self._label_text
        out = [i for i in self._built_labels[lo:hi] if text[i] is not None]
        added = self._artist_labels.get(artist_id)
        return out + added if added else out

    def _live(self, key: str) -> list[int]:
        """The codes filed under ``key`` whose label is registered (built rows verified against it)."""
        out = []
        for c in self._keys.built(key):
            label = self._label_text[c >> _LABEL_SHIFT]
            if label is not None and key in _label_key_set(label):
                out.append(c)
        added = self._keys.added(key)
        return out + added if added else out

    def remove(self, artist_id: int) -> None:
        """Forget every name, alias and surname of ``artist_id`` (derived again from its labels)."""
        self.ensure_built()
        try:
            self._remove(artist_id)
        finally:
            self._let_go()

    def _remove(self, artist_id: int) -> None:
        held = self._labels_of(artist_id)
        self._artist_labels.pop(artist_id, None)
        if not held:
            return
        self._given_seen.clear()
        keys: dict[str, set[int]] = {}  # key → the removed labels filing it
        for label_id in _filed(held):
            label = self._label_text[label_id]
            self._label_text[label_id] = None
            for op in _ops(label or ""):
                kind = op[0]
                if kind == "key":
                    keys.setdefault(op[1], set()).add(label_id)
                elif kind == "phonetic":
                    self._phonetic.discard(op[1])
                elif kind == "inflect":
                    self._inflect.discard(op[1])
                elif kind == "given":  # a built row is skipped once its label is gone
                    self._given.drop_added(op[1], {label_id})
                else:
                    self._surnames.drop_added(op[1], {label_id << 1 | op[2]})
        for key, labels in keys.items():
            # This artist's rows under the key: one per artist and key was filed.
            mine = [c for c in self._keys.built(key) + self._keys.added(key) if c >> _LABEL_SHIFT in labels]
            if not mine:
                continue
            for c in mine:
                if c & 4:  # it was filed for fuzzy matching
                    self._fuzzy.discard(key)
            self._keys.drop_added(key, set(mine))
            if not self._live(key):
                self._n_keys -= 1

    def replace(self, artist_id: int, labels: Iterable[str]) -> None:
        """Rename: drop the artist's names and register ``labels`` instead."""
        self.remove(artist_id)
        for label in labels:
            self.add(artist_id, label)

    def _entries(self, key: str) -> tuple[_Entry, ...]:
        """The entries filed under ``key``, unpacked (memoised until the registry changes)."""
        memo = self._memo.get("entries")
        if memo is None:
            memo = self._memo.setdefault("entries", {})
        found = memo.get(key)
        if found is None:
            found = memo[key] = tuple(self._unpack(c) for c in self._live(key))
        return found

    def _has_key(self, key: str) -> bool:
        """Whether ``key`` is a registered joined key (with a live entry)."""
        return bool(self._entries(key))

    def forget_lookups(self) -> None:
        """Forget what screening remembered: this matcher's registry answers by window text,
        and the process's tokenised chunks, phonetic probes and span disguises (a benchmark's
        cold start).
        Hits do not change; only the time to find them."""
        self._memo = {}
        self._stale = []
        forget_chunks()
        forget_probes()
        _obfuscation.cache_clear()

    def _lookups(self) -> dict[str, dict]:
        """The memo of registry answers by window text, emptied when it grows past
        :data:`_MEMO_LIMIT` entries.

        A registry change replaces the memo with a new dict, and a lookup stores its answer
        in the dict it read before asking, so no answer from before a change outlives it.
        """
        memo = self._memo
        if sum(len(d) for d in memo.values()) > _MEMO_LIMIT:
            self._let_go()
            memo = self._memo
        stale = self._stale
        if stale:  # free part of a memo let go of: a few dozen microseconds a prompt
            budget = _FREE_PER_PROMPT
            while stale and budget > 0:
                part = stale[-1]
                if not part:
                    stale.pop()
                    continue
                while part and budget > 0:
                    part.popitem()
                    budget -= 1
        return memo

    def _let_go(self) -> None:
        """Start a new memo. The old one is not freed here: a full memo holds tens of
        thousands of answers, several milliseconds to free, which would fall on one
        registration or one prompt; the next prompts free it a little each (:meth:`_lookups`)."""
        old, self._memo = self._memo, {}
        self._stale.extend(d for d in old.values() if d)

    def _unpack(self, code: int) -> _Entry:
        label_id = code >> _LABEL_SHIFT
        return _Entry(
            self._label_artist[label_id], self._label_text[label_id] or "", _HOWS[code >> 5 & 1], bool(code & 8),
            bool(code & 4), bool(code & 2), _VIAS[code >> 4 & 1], code >> 6 & 63,
        )

    def _surname_rows(self, key: str) -> Iterable[tuple[int, int, str]]:
        """(artist, code, label) of each registered label filing ``key`` as a surname, in filing order."""
        for code in self._surnames.rows(key):
            label_id = code >> 1
            label = self._label_text[label_id]
            if label is not None and _files_surname(label, key):
                yield self._label_artist[label_id], code, label

    def _has_surname(self, key: str) -> bool:
        """Whether some registered label files ``key`` as a surname."""
        return self._surnames.maybe(key) and next(iter(self._surname_rows(key)), None) is not None

    def _sole_surname_owner(self, key: str) -> tuple[int, str, bool] | None:
        """(artist, label, two-word name) when exactly one artist has ``key`` as a surname.

        The label is the owner's first filed with that surname.
        """
        first: tuple[int, int, str] | None = None
        for row in self._surname_rows(key):
            if first is None:
                first = row
            elif row[0] != first[0]:
                return None  # shared
        if first is None:
            return None
        return first[0], first[2], bool(first[1] & 1)

    def _given_owners(self, key: str, limit: int) -> list[int]:
        """The distinct artists (at most ``limit``, up to ``MAX_VARIANT_OWNERS + 1``) whose
        multi-word name starts with ``key``, in filing order.

        A frequent given name is read in many prompts and its rows verified each time, so the
        answers are kept (:attr:`_given_seen`, emptied by every registration and removal).
        """
        if not self._given.maybe(key):
            return []
        seen = self._given_seen.get(key)
        if seen is None:
            seen = self._given_scan(key, MAX_VARIANT_OWNERS + 1)
            if len(self._given_seen) >= _GIVEN_SEEN_MAX:
                self._given_seen.clear()
            self._given_seen[key] = seen
        return seen[:limit]

    def _given_scan(self, key: str, limit: int) -> list[int]:
        out: list[int] = []
        for label_id in self._given.rows(key):
            label = self._label_text[label_id]
            if label is None or not _files_given(label, key):
                continue
            artist = self._label_artist[label_id]
            if artist not in out:
                out.append(artist)
                if len(out) >= limit:
                    break
        return out

    def _has_given(self, key: str) -> bool:
        return bool(self._given_owners(key, 1))

    def _name_parts(self, artist_id: int) -> frozenset[str]:
        """Every canonical word of the artist's names and aliases, as written and in Latin letters."""
        out: set[str] = set()
        for label_id in self._labels_of(artist_id):
            label = self._label_text[label_id] or ""
            out.update(name_key(label))
            out.update(latin_key(label))
        return frozenset(out)

    def _given_of(self, artist_id: int) -> list[str]:
        out: list[str] = []
        for label_id in self._labels_of(artist_id):
            for op in _ops(self._label_text[label_id] or ""):
                if op[0] == "given":
                    out.append(op[1])
        return out

    def __len__(self) -> int:
        return self._n_keys

    # ------------------------------------------------------------- matching
    def find(
        self, prompt: str, tokens: list[Token] | None = None, rules: NameRules | None = None,
        suppressed: list[tuple[NameHit, str]] | None = None,
    ) -> list[NameHit]:
        """Every name hit in ``prompt``, in order of position (see the module doc for rules).

        ``tokens`` are ``tokenize(prompt)`` when the caller has them; ``rules`` (the policy's
        ``[names]``) say which rules need a style cue or an obfuscation. A ``suppressed`` list
        receives each candidate that needed context and had none, with the reason.
        """
        self.ensure_built()
        tokens = tokenize(prompt) if tokens is None else tokens
        if not tokens or not self._n_keys:
            return []
        rules = rules or DEFAULT_RULES
        streams: list[tuple[list[Token], str]] = [(tokens, AS_WRITTEN)]
        look = look_alike_tokens(tokens, prompt)
        if look is not tokens:
            streams.append((look, LOOK_ALIKE))
        if any(t.script != LATIN for t in tokens):
            streams.append((latin_tokens(tokens), TRANSLITERATION))
            other = other_latin_tokens(tokens)
            if other is not None:
                streams.append((other, TRANSLITERATION))
        hits: list[NameHit] = []
        memo = self._lookups()  # the streams of a prompt, and prompts, share most windows: each is looked up once
        readings = [self._windows(prompt, stream, via) for stream, via in streams]
        answers = self._look_up(readings, memo)
        for reading in readings:
            hits.extend(self._find_in(prompt, reading, memo, answers))
        hits.extend(self._skeleton_hits(prompt, tokens))
        hits.extend(self._glued_hits(prompt, tokens))
        kept = []
        # The readings of a prompt find many of the same hits: each distinct one is explained once.
        explained_as: dict[NameHit, tuple[NameHit | None, str]] = {}
        once = _Once()
        for hit in hits:
            if hit.dropped:  # dropped while matching: another person's name next to the surname
                if suppressed is not None:
                    suppressed.append((hit, hit.dropped))
                continue
            done = explained_as.get(hit)
            if done is None:
                why: list[str] | None = [] if suppressed is not None else None
                done = explained_as[hit] = (_explain(hit, prompt, rules, why, self._name_parts, once), "; ".join(why or ["needs a style cue"]))
            explained, reason = done
            if explained is not None:
                kept.append(explained)
            elif suppressed is not None:
                suppressed.append((hit, reason))
        return _best(kept)

    def _glued_hits(self, prompt: str, tokens: list[Token]) -> list[NameHit]:
        """A full multi-word name glued to words or digits in one Latin token: "anseladams4ever",
        "#keithharingstyle", "ilovemoebius" is not one (a one-word name glued needs more than this).

        The token's prefixes and suffixes of :data:`MIN_GLUED_KEY` or more letters are looked
        up as joined keys; a multi-word name's key counts when what is left of the token is
        digits, or one or two words of the lexicon (``lexicon.is_word``), so a name that only
        happens to sit inside a longer word does not.
        """
        asked: dict[str, tuple[Token, str]] = {}
        for t in tokens:
            text = t.text
            original = prompt[t.start : t.end]
            if (t.script != LATIN or len(text) < MIN_GLUED_KEY + 2 or len(original) != len(text)
                    or lexicon.is_word(text) or self._has_key(text)):
                continue
            for k in range(MIN_GLUED_KEY, len(text) - 1):
                asked.setdefault(text[:k], (t, _glue_left(text[k:], original[k:])))
                asked.setdefault(text[len(text) - k :], (t, _glue_left(text[: len(text) - k], original[: len(text) - k])))
        if not asked:
            return []
        batch = [key for key, (_, rest) in asked.items() if _is_glue(rest)]
        out = []
        for key, maybe in zip(batch, self._keys.present(batch)):
            if not maybe:
                continue
            t, _ = asked[key]
            for entry in self._entries(key):
                if entry.parts >= 2:
                    out.append(NameHit(entry.artist_id, entry.label, t.start, t.end, 0.9, "glued", "full-name",
                                       entry.via, key=key))
        return out

    def _skeleton_hits(self, prompt: str, tokens: list[Token]) -> list[NameHit]:
        """Whole names written in another script, on their consonant skeleton (``screening.skeleton``)."""
        out = []
        found = self._skeletons.find(prompt, tokens, self._label_text)
        found += self._skeletons.find_misspelt_surnames(prompt, tokens, self._label_text)  # --- skeleton hook
        for m in found:
            label = self._label_text[m.label_id] or ""
            score = SKELETON_SCORE * (1.0 - m.edits / max(len(m.key), 1))
            how = {"name": "skeleton", "spelt": "skeleton-spelt", "misspelt": "skeleton-misspelt"}.get(
                m.part, "skeleton-surname")
            out.append(NameHit(self._label_artist[m.label_id], label, m.start, m.end, score, how, "skeleton",
                               TRANSLITERATION, edits=m.edits, reading=m.reading, skeleton=m.skeleton))
        return out

    def _windows(self, prompt: str, tokens: list[Token], via: str) -> _Stream:
        """Every window of one reading of the prompt, with what the rules need to know about
        it, and the fuzzy, sound-alike and katakana queries its windows ask."""
        words = lexicon.frequencies()
        texts = [t.text for t in tokens]
        is_word = [t in words for t in texts]
        common = [words.get(t, 0) >= lexicon.COMMON_FREQUENCY for t in texts]
        spaced = [False] + [_has_space(prompt[tokens[k - 1].end : tokens[k].start]) for k in range(1, len(tokens))]
        # Characters of an unspaced script glued to the previous one do not count as words.
        glued = [False] + [
            is_unspaced(tokens[k].script) and is_unspaced(tokens[k - 1].script) and tokens[k - 1].end >= tokens[k].start
            for k in range(1, len(tokens))
        ]
        single_letter = [len(t.text) == 1 and not is_unspaced(t.script) for t in tokens]
        longest = self._max_key_len + 1
        # A misspelt name spans at most a few more tokens than the longest name (camelCase or
        # case tricks split words); letter-by-letter spacing is matched exactly, not fuzzily.
        fuzzy_tokens = self._max_tokens + 3
        fuzzy_lo, fuzzy_hi = _lengths(self._fuzzy)
        sound_lo, sound_hi = _lengths(self._phonetic)
        sound_lo = max(sound_lo, PHONETIC_MIN_LEN - 1)
        to_search: set[str] = set()
        to_sound: set[str] = set()
        windows: list[tuple[int, int, str, bool, bool, int, bool]] = []
        for i in range(len(tokens)):
            joined = ""
            all_common = wordy = True  # every token is a common word / a word of two or more letters
            spaced_out = False
            words_in = 0
            lone_letter = False  # a one-letter word ("a", an initial) is never a misspelt name part
            for j in range(i, len(tokens)):
                text = texts[j]
                joined += text
                words_in += 0 if (j > i and glued[j]) else 1
                lone_letter = lone_letter or single_letter[j]
                n = len(joined)
                if n > longest + 3:
                    break
                spaced_out = spaced_out or (j > i and spaced[j])
                all_common = all_common and common[j]
                wordy = wordy and is_word[j] and len(text) >= 2
                windows.append((i, j, joined, spaced_out and wordy, all_common, words_in, lone_letter))
                if words_in > fuzzy_tokens or (all_common and i == j) or lone_letter:
                    continue
                if fuzzy_lo <= n <= fuzzy_hi:
                    to_search.add(joined)
                if not all_common and sound_lo <= n <= sound_hi:
                    to_sound.add(joined)
        spelt: set[str] = set()
        if via == TRANSLITERATION:  # katakana readings of foreign names (see ``fuzzy.kana_skeleton``)
            # Whole katakana words only: a window starts and ends where a run of kana does.
            in_kana = [t.script in _KANA for t in tokens]
            run_on = [False] + [in_kana[k] and in_kana[k - 1] and tokens[k - 1].end >= tokens[k].start
                                for k in range(1, len(tokens))] + [False]
            spelt = {
                w[2] for w in windows
                if all(in_kana[w[0] : w[1] + 1]) and not run_on[w[0]] and not run_on[w[1] + 1]
            }
        return _Stream(tokens, via, texts, windows, to_search, to_sound, spelt)

    def _look_up(self, streams: Sequence[_Stream], memo: dict[str, dict]) -> _Answers:
        """Ask the registry, once for all readings of a prompt, what their windows need.

        Window texts (and their possessive stems) not asked before are checked against the
        key table in one vectorised pass and the absent ones remembered as such; fuzzy,
        sound-alike, katakana and stem queries go to their indexes in one batch each. The
        answers for this prompt are returned, each read from the memo once: a memo let go of
        by a registry change in another thread is freed while a prompt may still hold it (an
        entry read again from the memo falls back to asking the registry, see :meth:`_entries`).
        """
        entries = memo.get("entries")
        if entries is None:
            entries = memo.setdefault("entries", {})
        asked: dict[str, None] = {}
        for stream in streams:
            for window in stream.windows:
                joined = window[2]
                if joined not in entries:
                    asked[joined] = None
                if joined[-1] == "s" and len(joined) > 4 and joined[:-1] not in entries:
                    asked[joined[:-1]] = None
        if asked:
            batch = list(asked)
            for key, maybe in zip(batch, self._keys.present(batch)):
                if maybe:
                    entries[key] = tuple(self._unpack(c) for c in self._live(key))
                else:
                    entries[key] = ()
        fuzzy = self._fuzzy
        searched = _looked_up(memo.setdefault("fuzzy", {}), set().union(*(st.to_search for st in streams)), fuzzy.search_many)
        sounded = _looked_up(memo.setdefault("sound", {}), set().union(*(st.to_sound for st in streams)),
                             self._phonetic.search_many)
        spelt = set().union(*(st.spelt for st in streams))
        kana = _looked_up(memo.setdefault("kana", {}), spelt, fuzzy.search_kana) if spelt else {}
        stems: dict[str, set[str]] = {}
        stemmed = memo.setdefault("stemmed", {})
        unstemmed = [t for st in streams for t in st.texts if t not in stemmed]
        if unstemmed and len(self._inflect):
            unstemmed = list(dict.fromkeys(unstemmed))
            stemmed.update(dict.fromkeys(unstemmed))
            stems = self._inflect.stems_filed(t for t in unstemmed if not lexicon.is_word(t) and not self._has_key(t))
        return _Answers(searched, sounded, kana, stems)

    def _find_in(self, prompt: str, stream: _Stream, memo: dict[str, dict], answers: _Answers) -> list[NameHit]:
        """The hits of one reading of the prompt (its registry answers looked up by :meth:`_look_up`)."""
        tokens, via, texts, windows = stream.tokens, stream.via, stream.texts, stream.windows
        entries_of = self._entries
        has_surname = self._has_surname
        fuzzy_tokens = self._max_tokens + 3
        hits: list[NameHit] = []

        def hit(
            e: _Entry, start: int, end: int, score: float, how: str, rule: str, edits: int = 0, common: bool = False
        ) -> None:
            source = via if via != AS_WRITTEN else e.via
            key = joined if e.single and rule == "single" else ""
            hits.append(NameHit(e.artist_id, e.label, start, end, score, how, rule, source, common, "", "", edits, key))

        # What this reading asked, and only that (another reading's windows may share a text).
        searched = {q: got for q in stream.to_search if (got := answers.fuzzy.get(q))}
        sounded = {q: got for q in stream.to_sound if (got := answers.sound.get(q))}
        kana = {q: got for q in stream.spelt if (got := answers.kana.get(q))}
        near = bool(searched or sounded or kana)
        stems = answers.stems  # the stems of this prompt's new tokens (others' answers are memoised)
        known = memo["entries"]  # every window's text and possessive stem (see :meth:`_look_up`)
        inflected = memo.setdefault("inflect", {})
        words = lexicon.frequencies()
        may_inflect = len(self._inflect) > 0

        for i, j, joined, prose, all_common, words_in, lone_letter in windows:
            start, end = tokens[i].start, tokens[j].end
            # Prefilter: a window is looked up, or handed to the surname rule, only when its
            # text (or, for a possessive, its text less the "s") is a key or a surname at all.
            filed = known.get(joined)
            if filed is None:
                filed = entries_of(joined)
            if filed:
                found = False
                for e in filed:
                    if not (e.single and prose):
                        hit(e, start, end, 1.0, e.how, "single" if e.single else "full-name")
                        found = True
                if found:
                    continue
            if joined[-1] == "s" and len(joined) > 4:
                stem = joined[:-1]
                for e in known.get(stem) or entries_of(stem):
                    if e.possessive and not (e.single and prose):
                        hit(e, start, end, 1.0, "possessive", "single" if e.single else "full-name")
                if has_surname(stem):
                    self._surname(hits, stem, prose, prompt, tokens, i, j, via, possessive=True)
            if has_surname(joined):
                self._surname(hits, joined, prose, prompt, tokens, i, j, via)
            if i == j and self._has_given(joined):
                self._given_alone(hits, joined, tokens[i], via)
            if i == j:
                # What :meth:`_inflected` checks first, read here: most tokens end here.
                if may_inflect and not filed and joined not in words and any(inflected.get(joined) or (True,)):
                    self._inflected(hits, joined, prompt, tokens, i, via, stems)
            elif j == i + 1 and prompt[tokens[i].end : tokens[j].start] == "-":
                # A hyphenated surname declines on its last part: "Gallen-Kallelan" (Gallen-Kallela).
                self._inflected(hits, joined, prompt, tokens, i, via, stems, last=j)
                # Both parts declined: "Петрова-Водкина" (Петров-Водкин).  --- inflection hook
                for first in inflection.first_part_stems(texts[i]):
                    self._inflected(hits, first + texts[j], prompt, tokens, i, via, None, last=j)
            if words_in > fuzzy_tokens:
                continue
            # A misspelling read from common words only ("Ruth bakes") is a common-word hit;
            # one common word alone ("banks") is never a misspelt name.
            if (all_common and i == j) or lone_letter or not near:
                continue
            for key, edits in searched.get(joined, ()):
                for e in entries_of(key):
                    if e.fuzzy:
                        hit(e, start, end, 1.0 - edits / len(key), "fuzzy", "fuzzy", edits, all_common)
            for key, edits in kana.get(joined, ()):
                for e in entries_of(key):
                    if e.fuzzy and not e.single:
                        hit(e, start, end, KANA_SCORE, "phonetic", "phonetic", edits)
            # Sound-alikes: long windows with a word that is not a common word.
            for key, edits in sounded.get(joined, ()):
                if edits < 2:
                    continue  # one edit is the fuzzy rule's
                for e in entries_of(key):
                    # A sound-alike changes letters; it does not drop a word of the
                    # name ("Ximena Ångström-Vail" is not "Zoë Ångström-Vail").
                    if words_in < e.parts and not is_unspaced(tokens[i].script):
                        continue
                    if another_syllable(tokens[i].script, tokens[j].script, e.label):
                        continue  # --- phonetic hook: "김정호" is not "김정기"
                    if e.fuzzy and not (e.single and prose):
                        hit(e, start, end, 1.0 - edits / len(key), "phonetic", "phonetic", edits, all_common)
        if self._given:
            self._variants(hits, prompt, tokens, texts, via)
        return hits

    def _variants(self, hits: list[NameHit], prompt: str, tokens: list[Token], texts: list[str], via: str) -> None:
        """A registered given name next to a romanisation variant of the same artist's surname.

        "Arkhip Kuinji" (Kuindzhi), "Хелене Шерфбек" read as "helene sherfbek" (Schjerfbeck):
        transliteration systems disagree by more than the fuzzy rule's one edit, but only
        next to the given name written exactly. Bounded: the surname has
        :data:`MIN_VARIANT_LEN` or more letters and the same first letter, at most
        :data:`VARIANT_SHARE` of its letters are edited, the word in the prompt is not a
        common word itself, and a given name shared by more than :data:`MAX_VARIANT_OWNERS`
        artists is skipped. Costs one dict lookup per token when no given name is present.
        """
        from rapidfuzz.distance import Levenshtein

        for k in range(len(tokens) - 1):
            owned = self._given_owners(texts[k], MAX_VARIANT_OWNERS + 1)
            if not owned:
                continue
            word = texts[k + 1]
            if (len(owned) > MAX_VARIANT_OWNERS or len(word) < MIN_VARIANT_LEN - 1
                    or prompt[tokens[k].end : tokens[k + 1].start].strip() or self._has_key(word)
                    or lexicon.is_common(word) or frequency.zipf(word) >= DEFAULT_RULES.common_zipf):
                continue
            for artist_id in owned:
                for label_id in self._labels_of(artist_id):
                    label = self._label_text[label_id] or ""
                    for op in _ops(label):
                        if op[0] != "surname" or len(op[1]) < MIN_VARIANT_LEN or op[1][0] != word[0] or op[1] == word:
                            continue
                        limit = int(VARIANT_SHARE * len(op[1]))
                        edits = Levenshtein.distance(word, op[1], score_cutoff=limit)
                        if edits <= limit:
                            hits.append(NameHit(
                                artist_id, label, tokens[k].start, tokens[k + 1].end, 1.0 - edits / len(op[1]),
                                "variant", "phonetic", via, edits=edits,
                            ))

    def _given_alone(self, hits: list[NameHit], key: str, token: Token, via: str) -> None:
        """A rare given name of one artist on its own ("in the style of Junji"): rule ``given``.

        It stands only next to a strong style cue (see :func:`_explain`), and only when it
        is rare in ordinary text of every screened language (wordfreq), so "Frida", "Ivan"
        or "Greg" never match alone; a given name shared by artists matches nobody.
        """
        if len(key) < MIN_GIVEN_LEN:
            return
        owned = self._given_owners(key, 2)
        if len(owned) != 1 or self._has_key(key) or self._has_surname(key):
            return
        owners = owned[0]
        if lexicon.is_word(key) or lexicon.is_common(key) or frequency.zipf(key) >= GIVEN_MAX_ZIPF:
            return
        for label_id in self._labels_of(owners):
            label = self._label_text[label_id] or ""
            if any(op[0] == "given" and op[1] == key for op in _ops(label)):
                hits.append(NameHit(owners, label, token.start, token.end, GIVEN_SCORE, "given", "given", via, key=key))
                return

    def _surname(
        self, hits: list[NameHit], key: str, prose: bool, prompt: str, tokens: list[Token], i: int, j: int, via: str,
        how: str = "surname", score: float = SURNAME_SCORE, possessive: bool = False,
    ) -> None:
        if self._has_given(key) or self._has_key(key):
            return
        owner = self._sole_surname_owner(key)
        if owner is None:
            return
        artist_id, label, single = owner
        if single and prose:
            return
        start = tokens[i].start
        if i > 0:
            given = self._given_of(artist_id)
            if _given_form(prompt, tokens[i - 1], tokens[i], given):
                start = tokens[i - 1].start  # "Grega Rutkowskiego": the declined given name belongs to it
        rule = "surname" if how == "surname" else "inflection"
        other = ""
        if start == tokens[i].start and i > 0 and _someone_else(prompt, tokens[i - 1], tokens[i], self._given_of(artist_id)):
            word = prompt[tokens[i - 1].start : tokens[i - 1].end]
            other = f"another person's name: {word!r} before the surname is not the artist's given name"
        elif j + 1 < len(tokens) and _surname_first_other(prompt, tokens[j], tokens[j + 1], self._given_of(artist_id)):
            word = prompt[tokens[j + 1].start : tokens[j + 1].end]
            other = (f"another person's name, surname first: {word!r} after it is a given name "
                     "of a country that writes the surname first (names-dataset)")
        if other:
            hits.append(NameHit(artist_id, label, start, tokens[j].end, score, how, rule, via, key=key, dropped=other))
            return
        hits.append(NameHit(artist_id, label, start, tokens[j].end, score, how, rule, via,
                            cue="'s" if possessive else "", key=key))

    def _inflected(
        self, hits: list[NameHit], token: str, prompt: str, tokens: list[Token], i: int, via: str,
        filed: dict[str, set[str]] | None = None, last: int | None = None,
    ) -> None:
        if len(self._inflect) == 0 or lexicon.is_word(token) or self._has_key(token):
            return
        j = i if last is None else last
        start = len(hits)
        plain, same_length, replaced = self._stems_of(token, filed)
        found = list(plain)
        if i > 0:  # after a declined given name, an ending may also replace letters ("Jacka Yerki")
            for key in same_length:
                owner = self._sole_surname_owner(key)
                if key not in found and owner is not None and _given_form(
                    prompt, tokens[i - 1], tokens[i], self._given_of(owner[0])
                ):
                    found.append(key)
        # A replaced ending ("Matejki", "Риверы") or a Finnish "-nen" gradation ("Halosen")
        # is weaker evidence: read like a common word, it stands next to a style cue only.
        weak = [k for k in replaced if k not in found]
        if weak:
            before = len(hits)
            self._inflected_hits(hits, weak, prompt, tokens, i, j, via)
            hits[before:] = [replace(h, common=True, how="ending") for h in hits[before:]]
        # The inflected form is an ordinary word itself ("monetary", Czech "buriana"): a
        # common-word hit, standing only next to a style cue ("podle Buriana").
        ordinary = bool(found) and frequency.zipf(token) >= DEFAULT_RULES.common_zipf
        before = len(hits)
        self._inflected_hits(hits, found, prompt, tokens, i, j, via)
        if ordinary:
            hits[before:] = [replace(h, common=True) for h in hits[before:]]
        if i > 0 and len(hits) > start:
            # After the artist's own given name, perhaps declined too ("Josefem Čapkem"), it is
            # the full name in a case form, and stands like the full name.
            hits[start:] = [replace(h, rule="full-name", common=False)
                            if _given_before(prompt, tokens, i, self._given_of(h.artist_id)) else h
                            for h in hits[start:]]

    def _stems_of(self, token: str, filed: dict[str, set[str]] | None) -> tuple[tuple[str, ...], ...]:
        """The inflection index's three answers for ``token`` (plain endings, same-length
        endings, replaced endings; see ``screening.inflection``), memoised until the registry changes."""
        memo = self._memo.get("inflect")
        if memo is None:
            memo = self._memo.setdefault("inflect", {})
        found = memo.get(token)
        if found is None:
            index = self._inflect
            found = memo[token] = (
                tuple(index.search(token, filed=filed)), tuple(index.search(token, same_length=True, filed=filed)),
                tuple(index.search_replaced(token, filed)),
            )
        return found

    def _inflected_hits(
        self, hits: list[NameHit], found: list[str], prompt: str, tokens: list[Token], i: int, j: int, via: str,
    ) -> None:
        for key in found:
            for e in self._entries(key):
                if e.single:
                    source = via if via != AS_WRITTEN else e.via
                    genitive = "'s" if _german_genitive(prompt, tokens, i, key) else ""
                    hits.append(NameHit(e.artist_id, e.label, tokens[i].start, tokens[j].end, INFLECTION_SCORE,
                                        "inflection", "inflection", source, cue=genitive, key=key))
            self._surname(hits, key, False, prompt, tokens, i, j, via, "inflection", INFLECTION_SCORE)



def _lengths(index: FiledKeys) -> tuple[int, int]:
    """The query lengths :meth:`FiledKeys.may_match` accepts, as an inclusive range (empty when it accepts none)."""
    if not len(index):
        return 1, 0
    return index.min_len - index.slack, index.max_len + index.slack


def _has_space(gap: str) -> bool:
    """Whether the text between two tokens holds whitespace."""
    return " " in gap or (gap != "" and any(c.isspace() for c in gap))


def _german_genitive(prompt: str, tokens: list[Token], i: int, key: str) -> bool:
    """Whether ``tokens[i]`` is a one-word name with the German genitive "-s" before the noun
    it owns: "Rembrandts Nachtwache", "Dürers Hase". German writes it without an apostrophe,
    so it is read as the possessive it is: the name and the noun capitalised, one space
    between, the name at least :data:`inflection.MIN_STEM` letters."""
    t = tokens[i]
    if t.text != key + "s" or len(key) < inflection.MIN_STEM or i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    written, noun = prompt[t.start : t.end], prompt[nxt.start : nxt.end]
    return (t.script == nxt.script == LATIN and prompt[t.end : nxt.start] == " " and written[:1].isupper()
            and not written.isupper() and noun[:1].isupper() and noun[1:].islower() and len(noun) > 2)


def _looked_up(
    memo: dict[str, list[tuple[str, int]]], queries: set[str], search: Callable[[list[str]], dict[str, list[tuple[str, int]]]],
) -> dict[str, list[tuple[str, int]]]:
    """``search(queries)``, asking only for the queries not asked before; each answer is read
    from ``memo`` once (see :meth:`NameMatcher._look_up`)."""
    out: dict[str, list[tuple[str, int]]] = {}
    new = []
    for q in queries:
        held = memo.get(q)
        if held is None:
            new.append(q)
        else:
            out[q] = held
    if new:
        found = search(new)
        memo.update(found)
        for q in new:
            out[q] = found.get(q, [])
    return out


MIN_GLUED_KEY = 8  # letters of a joined multi-word name found glued inside a longer token


def _glue_left(folded: str, original: str) -> str:
    """What is left of a token beside a glued name, without its digits ("4ever" is "ever")."""
    return "".join(f for f, o in zip(folded, original) if not o.isdigit())


def _is_glue(rest: str) -> bool:
    """Whether the rest of a token is digits only, or one or two lexicon words."""
    if not rest:
        return True
    if len(rest) < 3:
        return False
    return lexicon.is_word(rest) or any(lexicon.is_word(rest[:k]) and lexicon.is_word(rest[k:]) for k in range(2, len(rest) - 1))


_MEMO_LIMIT = 1 << 16  # window texts whose registry answers are kept (a few megabytes)
_FREE_PER_PROMPT = 256  # answers of a memo let go of freed per prompt


@lru_cache(maxsize=8192)
def _label_key_set(label: str) -> frozenset[str]:
    """The joined keys ``label`` files (to verify a row found by its key's hash)."""
    return frozenset(op[1] for op in _ops(label) if op[0] == "key")


def _files_surname(label: str, key: str) -> bool:
    """Whether ``label`` files ``key`` as a surname; a label of two plain words is read
    directly (a shared word is verified against many labels, mostly never seen before)."""
    pair = _plain_pair(label, {})
    if pair is not None:
        return pair[1] == key and len(key) >= MIN_SHORT_SURNAME_LEN
    return key in _label_surname_set(label)


def _files_given(label: str, key: str) -> bool:
    """Whether ``label`` files ``key`` as its given name (see :func:`_files_surname`)."""
    pair = _plain_pair(label, {})
    if pair is not None:
        return pair[0] == key
    return key in _label_given_set(label)


@lru_cache(maxsize=8192)
def _label_surname_set(label: str) -> frozenset[str]:
    """The surnames ``label`` files (to verify a surname row found by its hash)."""
    return frozenset(op[1] for op in _ops(label) if op[0] == "surname")


@lru_cache(maxsize=8192)
def _label_given_set(label: str) -> frozenset[str]:
    """The given names ``label`` files (to verify a given-name row found by its hash)."""
    return frozenset(op[1] for op in _ops(label) if op[0] == "given")


@lru_cache(maxsize=8192)
def _ops(label: str) -> tuple[tuple, ...]:
    """What registering ``label`` files, in order; replayed to remove it.

    ("key", joined, how, single, fuzzy, possessive, via, parts, tokens), ("phonetic", key),
    ("inflect", key), ("given", first token), ("surname", key, two-word name).
    """
    tokens = name_tokens(label)
    if not tokens:
        return ()
    key = tuple(t.text for t in tokens)
    scripts = tuple(t.script for t in tokens)
    latin = key if all(s == LATIN for s in scripts) else tuple(t.text for t in latin_tokens(tokens))
    return _ops_of(label, key, scripts, latin)


_WordForms = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _plain_pair(label: str, plain: dict[str, str | None]) -> tuple[str, str] | None:
    """The keys of a label of two plain words ("Given Surname", one space), else None.

    ``plain`` is the build's cache of words read (see :func:`canonical.plain_word_key`).
    """
    words = label.split(" ")
    if len(words) != 2:
        return None
    out = []
    for word in words:
        try:
            key = plain[word]
        except KeyError:
            key = plain[word] = plain_word_key(word)
        if key is None:
            return None
        out.append(key)
    return out[0], out[1]


def _build_ops(label: str, words: dict[str, _WordForms]) -> tuple[tuple, ...]:
    """:func:`_ops` of ``label``, each space-separated word canonicalised once per build.

    Registries repeat given names and surnames massively; ``words`` (the build's cache:
    word → token texts, scripts, Latin reading) makes each distinct word cost one
    canonicalisation, and a plain ASCII word is read without the tokenizer at all. A space
    always separates tokens and no token rule looks across one, so the tokens of a label
    are its words' tokens in order.
    """
    key: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    latin: tuple[str, ...] = ()
    for word in label.split(" "):
        plain = plain_word_key(word)
        if plain is not None:  # the common case, read directly (a cache entry would cost more)
            key += (plain,)
            scripts += (LATIN,)
            latin += (plain,)
            continue
        forms = words.get(word)
        if forms is None:
            tokens = name_tokens(word)
            texts = tuple(t.text for t in tokens)
            kinds = tuple(t.script for t in tokens)
            read = texts if all(s == LATIN for s in kinds) else tuple(t.text for t in latin_tokens(tokens))
            forms = words[word] = (texts, kinds, read)
        key += forms[0]
        scripts += forms[1]
        latin += forms[2]
    if not key:
        return ()
    return _ops_of(label, key, scripts, latin)


def _ops_of(label: str, key: tuple[str, ...], scripts: tuple[str, ...], latin: tuple[str, ...]) -> tuple[tuple, ...]:
    unspaced = all(is_unspaced(s) for s in scripts)
    last = _last_word_stands_alone(label)
    given, elided = _given_tokens(label), bool(_ELIDED_PREFIX.search(label))
    ops: list[tuple] = []
    _key_ops(ops, key, AS_WRITTEN, unspaced, last, given, elided)
    if latin and latin != key:
        _key_ops(ops, latin, TRANSLITERATION, False, last, given, elided)
    return tuple(ops)


# An elided prefix of a surname: "O'Keeffe", "D'Arcy", "L'Enfant" (one letter and an apostrophe).
_ELIDED_PREFIX = re.compile(r"(?<![^\W\d_])[OoDdLl]['’](?=[^\W\d_])")


def _given_tokens(label: str) -> int:
    """Tokens of a label's given name: its first space-separated word, hyphenated parts
    included ("Jean-Michel Basquiat": two), or 1."""
    words = label.split()
    if len(words) < 2 or "-" not in words[0]:
        return 1
    return max(1, len(name_tokens(words[0])))


def _join_elided(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """Tokens with an elided one-letter prefix joined to the word it belongs to ("o", "keeffe" → "okeeffe")."""
    out: list[str] = []
    k = 0
    while k < len(tokens):
        if len(tokens[k]) == 1 and k + 1 < len(tokens) and tokens[k] in "odi":
            out.append(tokens[k] + tokens[k + 1])
            k += 2
            continue
        out.append(tokens[k])
        k += 1
    return tuple(out)


def _key_ops(ops: list[tuple], tokens: tuple[str, ...], via: str, unspaced: bool, last_alone: bool,
             given: int = 1, elided: bool = False) -> None:
    joined = "".join(tokens)
    n = len(tokens)
    single = n == 1 or unspaced
    words = _join_elided(tokens) if elided else tokens
    fuzzy = not unspaced and all(len(t) > 1 for t in words)  # initials ("M. Okonkwo") never match fuzzily
    possessive = not single or (len(joined) >= 4 and not lexicon.is_word(joined))
    if unspaced:  # "宮崎駿": one word, matched inside runs of text
        ops.append(("key", joined, "exact", True, False, False, via, 1, n))
        return
    ops.append(("key", joined, "exact", single, fuzzy, possessive, via, n, n))
    if fuzzy:
        ops.append(("phonetic", joined))
    if single:
        ops.append(("inflect", joined))
        return
    for order in _other_orders(tokens):
        ops.append(("key", "".join(order), "reversed", False, fuzzy, True, via, n, n))
    ops.append(("given", tokens[0]))
    surnames = _surnames_of(words, last_alone)
    if given > 1 and len(tokens) > given:  # after a hyphenated given name: "Basquiat" of "Jean-Michel Basquiat"
        surnames += [s for s in _surnames_of(("".join(tokens[:given]), *words[given:]), last_alone) if s not in surnames]
    for surname in surnames:
        ops.append(("surname", surname, len(words) == 2))
        ops.append(("inflect", surname))


def _explain(
    hit: NameHit, prompt: str, rules: NameRules, why: list[str] | None = None,
    parts: Callable[[int], frozenset[str]] | None = None, once: _Once | None = None,
) -> NameHit | None:
    """The hit with its context attached, or None when its rule needs context and has none.

    ``why``, when given, receives the reasons a hit was dropped (see ``NameMatcher.find``);
    ``parts`` gives an artist's name words (to tell a native-script word next to the rest of
    the artist's name, :func:`_native_word`).
    ``once`` makes each look at the prompt around a span once for all of a prompt's hits.
    """
    once = _Once() if once is None else once
    wanted = why is not None
    why = [] if why is None else why
    if hit.rule == "given":  # a given name alone: a strong style cue, whatever the policy
        strong = once(cues.style_cue, prompt, hit.start, hit.end)
        return replace(hit, cue=strong.text) if strong is not None and strong.strong else None
    if hit.rule == "skeleton":  # a short skeleton is weak evidence: a style cue, whatever the policy
        cue = once(cues.style_cue, prompt, hit.start, hit.end) or once(cues.tag_list_cue, prompt, hit.start, hit.end)
        cued = cue is not None and once(cues.counts, cue, prompt, hit.start, hit.end, rules.common_zipf)
        short = len(hit.skeleton) < SKELETON_ALONE_LEN and hit.how != "skeleton-spelt"  # spelt out: it stands
        if not cued and (short or rules.needs_context("skeleton", False, hit.via)):
            return None
        return replace(hit, cue=cue.text if cue else "")
    common = hit.common
    modified = ""
    if hit.rule in ("single", "surname", "inflection", "fuzzy", "phonetic"):
        whole, _ = _label_keys(hit.matched)
        checked: tuple[str, ...] = (hit.key,) if hit.key else whole
        if hit.rule in ("fuzzy", "phonetic") and len(name_tokens(hit.matched)) > 1:
            checked = ()
        common = common or any(_is_common(k, rules) for k in checked)
        if hit.rule in ("surname", "inflection") and hit.key and len(hit.key) < MIN_SURNAME_LEN:
            common = True  # a short surname ("Zorn", "Wood") is too short to stand alone
        if (hit.rule == "surname" and hit.key and rules.reads_ordinary("frequent-surname")
                and givennames.is_frequent_surname(hit.key)):
            common = True  # a frequent surname somewhere ("O'Keeffe", "Murata"): many people's, not one artist's
        noun = once(cues.place_after, prompt, hit.end) if hit.rule in ("single", "surname", "inflection") else ""
        if noun:
            common = True  # "Sorolla street", "Kusama station": a place named after someone
            why.append(f"a place named after someone ({noun!r} after it)")
        head = once(places.proper_name_head, prompt, hit.start, hit.end) if hit.rule in ("single", "surname", "inflection") else ""
        if head:
            common = True  # "<Surname> State Museum", "Hotel <Surname>": part of a place's or institution's name
            why.append(f"part of a place's or institution's name ({head!r})")
        modified = once(cues.attributive, prompt, hit.start, hit.end) if hit.rule in ("single", "surname", "inflection") else ""
        other = _names_another(hit, prompt) if modified else ""
        if other:
            common = True  # "a Möbius strip", "the Hirst family": a modifier, a brand or an eponym
            why.append(f"a modifier of {modified!r} after an article, and {other}")
        else:
            modified = ""  # "a Kandinsky composition": a name that names nobody else is the artist's
        if hit.rule in ("surname", "inflection") and once(_inside_unspaced_run, prompt, hit.start, hit.end):
            common = True  # Thai "ดัชนี" (a surname, and "index") inside "กราฟดัชนีหุ้น": a word of the run
        if not common and hit.via == TRANSLITERATION and hit.rule in ("single", "surname", "inflection"):
            common = _written_is_common(prompt[hit.start : hit.end], rules)  # Hebrew "רובין" (Robin)
    cue_end = inflection.apostrophe_ending_end(prompt, hit.end)  # "Eyüboğlu'nun tarzında": the cue is after the ending
    cue = once(cues.style_cue, prompt, hit.start, cue_end) or once(cues.tag_list_cue, prompt, hit.start, hit.end)
    if cue is None and (hit.how == "possessive" or hit.cue == "'s"):
        cue = cues.POSSESSIVE
    if cue is not None and cue.possessive and once(cues.establishment_after, prompt, hit.end):
        cue = None  # "Larsson's bakery" is the baker's: no style there
    if (cue is not None and not cue.strong and hit.rule in ("single", "surname", "inflection")
            and rules.reads_ordinary("place") and places.joins_place_names(cue.text)):
        around = places.place_name_around(prompt, hit.start, hit.end)
        if around is not None and around[1] < hit.start:
            cue = None  # "Saint-Nicolas-de-Redon": the weak cue "de" is a word of the place's name
    hidden = _obfuscation(prompt[hit.start : hit.end], hit.matched)
    explained = replace(hit, common=common, cue=cue.text if cue else "", obfuscation=hidden)
    if hidden or (cue is not None and once(cues.counts, cue, prompt, hit.start, hit.end, rules.common_zipf)):
        return explained
    # Only a hit that would stand without context is read further (these cost look-ups).
    reading = _reading(hit, prompt, rules, common, parts)
    if not reading and not rules.needs_context(hit.rule, common, hit.via):
        return explained
    if not wanted:
        return None
    if reading:
        why.append(reading)
    if common and not modified and not reading and not (noun or head):
        why.append("a common word, brand, place or short surname")
    if cue is None:
        why.append("no style cue, no obfuscation")
    else:
        lang = cues.binds_ordinary_word(cue, prompt, hit.start, hit.end, rules.common_zipf)
        why.append(f"weak cue {cue.text!r} before an ordinary word of {lang!r}" if lang else
                   f"cue {cue.text!r} does not count here")
    return None


def _reading(
    hit: NameHit, prompt: str, rules: NameRules, common: bool, parts: Callable[[int], frozenset[str]] | None,
) -> str:
    """Why the prompt uses a hit's words as something other than the artist's name, or "".

    A lone name (one-word name, surname, inflected one) as a place (``places.place_reading``,
    the policy's ``place``), as a short ordinary word of its own script (``native-word``),
    or as an ordinary word of the prompt's language (``language.ordinary_in_prompt``, for a
    word not already common); a full name as the start of an institution's name ("the Jan
    Matejko Academy", ``places.institution_after``, the policy's ``institution``). Each
    makes the hit need a style cue or an obfuscation, whatever its rule.
    """
    whole_name = hit.rule == "full-name" or hit.rule in ("fuzzy", "phonetic") and len(name_tokens(hit.matched)) > 1
    if hit.rule in ("full-name", "single"):
        span = prompt[hit.start : hit.end]
        if hit.rule == "full-name" and rules.reads_ordinary("place") and span.isalpha() and span.isascii() and places.is_place(
                canonical_word(span), rules.place_population):
            return f"a place: {span!r}"  # a full name written as one word that is a town's name ("Jeongseon")
        if (len(span) <= 2 and all(is_unspaced(script_of(c)) for c in span)
                and _inside_unspaced_run(prompt, hit.start, hit.end)):
            return f"two letters inside a run of {script_of(span[0]).title()} text"  # 马远 in 骑马远行, 정선 in 정선된
    if whole_name:  # the full name, or a misspelling of it ("Ivan Meštrović, the" read as it sounds)
        if not rules.reads_ordinary("institution"):
            return ""
        head = places.institution_after(prompt, hit.end)
        if head:
            return f"the name of an institution ({head!r} after it)"
        head = places.institution_before(prompt, hit.start)
        return f"the name of an institution ({head!r} before it)" if head else ""
    if hit.rule not in ("single", "surname", "inflection"):
        return ""
    if rules.reads_ordinary("place"):
        place = places.place_reading(prompt, hit.start, hit.end, rules.place_population)
        if place:
            return f"a place: {place}"  # "Santiago de Compostela", "the village of <X>", "<X>, Norway"
    if rules.reads_ordinary("native-word"):
        native = _native_word(hit, prompt, rules, parts)
        if native:
            return f"a short word in its own script: {native}"  # Bulgarian "роса", Tamil "மணி"
    if not common:
        return _ordinary_in_prompt_language(hit, prompt, rules)  # Slovenian "kobilica" (a grasshopper)
    return ""


def _native_word(
    hit: NameHit, prompt: str, rules: NameRules, parts: Callable[[int], frozenset[str]] | None,
) -> str:
    """Why a lone name written in its own (non-Latin, spaced) script reads as an ordinary word, or "".

    The span's word is short and an ordinary word of a language of its script
    (``language.native_word``), and the words right before and after it are none of the
    artist's other name words (next to them it is the artist's name: "Maniam <surname>").
    """
    from stylegate.governance.screening import language

    span = prompt[hit.start : hit.end].strip(_PUNCT)
    if not span or " " in span:
        return ""
    reason = language.native_word(span, rules.common_zipf)
    if not reason or parts is None:
        return reason
    own = parts(hit.artist_id)
    before = prompt[: hit.start].split()[-1:]
    after = prompt[hit.end :].split()[:1]
    for word in before + after:
        word = word.strip(_PUNCT)
        keys = {canonical_word(word), "".join(latin_key(word))} - {""}
        if keys & own:
            return ""
    return reason


def _ordinary_in_prompt_language(hit: NameHit, prompt: str, rules: NameRules) -> str:
    """Why a lone Latin-script name is an ordinary word of the language the prompt is written in, or "".

    For the Latin-script languages wordfreq covers beyond the screened ones
    (``language.EXTRA_LATIN``: Slovenian, Hungarian, Romanian, …), a word is rated only in
    the language of the prompt's other words, so it does not become common everywhere.
    """
    from stylegate.governance.screening import language

    span = prompt[hit.start : hit.end].strip(_PUNCT)
    key = canonical_word(span) if " " not in span else ""
    if not key:
        return ""
    others = [canonical_word(w.strip(_PUNCT)) for w in (prompt[: hit.start] + " " + prompt[hit.end :]).split()]
    lang = language.ordinary_in_prompt(key, [k for k in others if k], rules.common_zipf)
    return f"an ordinary word of {lang!r}, the prompt's language (wordfreq)" if lang else ""


_PUNCT = " \t\"'«»“”„‚‘’()[]:;,.!?-–—_*"


@lru_cache(maxsize=16384)
def _obfuscation(span: str, label: str) -> str:
    """``cues.obfuscation`` of a span matching ``label``: it reads only the span's text and
    the label, so prompts that repeat a disguise or a name ask once."""
    return cues.obfuscation(span, 0, len(span), label)


class _Once:
    """Calls of pure functions of a prompt and its spans (the cue readers), each made once."""

    def __init__(self) -> None:
        self._done: dict[tuple, object] = {}

    def __call__(self, fn: Callable[..., _T], *args: object) -> _T:
        key = (fn, *args)
        try:
            return self._done[key]  # type: ignore[return-value]
        except KeyError:
            out = self._done[key] = fn(*args)
            return out


def _inside_unspaced_run(prompt: str, start: int, end: int) -> bool:
    """Whether the span is glued to letters of a script written without spaces on either side.

    In such a run a lone surname cannot be told from a word of the run (word boundaries are
    not written), so it needs context like a common word; a full name still stands alone.
    """

    def glued(a: int, b: int) -> bool:
        return 0 <= a < len(prompt) and 0 <= b < len(prompt) and all(
            prompt[k].isalpha() or unicodedata.category(prompt[k]).startswith("M") for k in (a, b)
        ) and is_unspaced(script_of(prompt[a])) and is_unspaced(script_of(prompt[b]))

    return glued(start - 1, start) or glued(end - 1, end)


def _written_is_common(span: str, rules: NameRules) -> bool:
    """Whether a word of the span, as written in its own script, is common in some language.

    A surname matched through a transliteration is rated by its Latin key, which says
    nothing about the word the prompt holds: "רובין" is Hebrew for "Robin", "हुसैन" a
    frequent Hindi name, though their Latin keys are rare.
    """
    from stylegate.governance.screening.canonical import canonical_word

    for word in span.split():
        key = canonical_word(word)
        if key and (frequency.zipf(key) >= rules.common_zipf or lexicon.is_common(key)):
            return True
    return False


def _names_another(hit: NameHit, prompt: str) -> str:
    """What else the word of a one-word name or lone surname names, or "" when nothing is known.

    Its key (as registered, and as written when not declined) is an ordinary word (Zipf at
    least :data:`ATTRIBUTIVE_MIN_ZIPF` in a screened language), a city, or somebody's first
    name or surname in names-dataset (any rank; ``screening.givennames``). A name that is
    none of these ("Kandinsky", "Hokusai") before a noun is the artist's: "a Hokusai wave".
    """
    keys = [hit.key] if hit.key else list(_label_keys(hit.matched)[0])
    if hit.rule != "inflection":
        keys.append(canonical_word(prompt[hit.start : hit.end]))
    for key in dict.fromkeys(k for k in keys if k):
        if (frequency.zipf(key) >= ATTRIBUTIVE_MIN_ZIPF and not _famous_name(key)) or lexicon.is_common(key):
            return f"{key!r} is an ordinary word"
        if places.is_place(key):
            return f"{key!r} is a place"
        if givennames.is_persons_name(key):
            return f"{key!r} is other people's name too (names-dataset)"
    return ""


def _is_common(key: str, rules: NameRules) -> bool:
    """A common word in some screened language, a common English word, or the main name of a
    place of ``rules.place_population`` or more people (GeoNames).

    A word frequent only because it is a famous name is not common (:func:`_famous_name`).
    """
    if lexicon.is_common(key) or places.is_place(key, rules.place_population):
        return True
    return frequency.zipf(key) >= rules.common_zipf and not _famous_name(key)


def _famous_name(key: str) -> bool:
    """Whether a frequent word is frequent as one famous person's name: "Rembrandt", "Banksy".

    wordfreq folds case, so fame reads as commonness. The word is a proper noun in some
    hunspell dictionary of a screened language and an ordinary word in none
    (``screening.propernouns``: "potter", "monet" (Polish) and "kawasaki" (Polish, the
    motorcycle) are lower-case words somewhere), and not a frequent given name or surname of
    other people (names-dataset, ranked within 1,000 in some country: "Nielsen", "Mumford").
    Places are read by :func:`_is_common` before this. A brand that is only a proper noun and
    no one's name or place is not told apart (no open brand list was found).
    """
    from stylegate.governance.screening import propernouns

    return propernouns.is_proper_only(key) and not givennames.is_frequent_name(key)


@lru_cache(maxsize=65536)
def _label_keys(label: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The joined keys of a label (as written and transliterated), and of its surname part."""
    whole, surname = [], []
    for key in {name_key(label), latin_key(label)}:
        if key:
            whole.append("".join(key))
            if len(key) > 1:
                surname.append("".join(key[1:]))
    return tuple(whole), tuple(surname)


def _last_word_stands_alone(label: str) -> bool:
    """Whether the last word of a label of three or more words is a surname on its own.

    "Peder Severin Krøyer", "P. S. Krøyer", "Raja Ravi Varma": yes (middle names and
    initials before it). "Hilma af Klint", "Anneke van der Molen": no, the lower-case
    particle belongs to the surname. A hyphenated surname is one word.
    """
    words = label.split()
    if len(words) < 3:
        return False
    return all(not w[:1].islower() for w in words[1:-1])


def _surnames_of(tokens: tuple[str, ...], last_alone: bool = False) -> list[str]:
    """What may stand alone as the surname of a multi-word name.

    Everything after the given name ("Lindqvist-Osei"), and the last word when it stands
    alone (see :func:`_last_word_stands_alone`); initials are never part of one.
    Surnames of fewer than :data:`MIN_SURNAME_LEN` letters (down to three) are kept too, but
    count as common words: they stand only next to a style cue.
    """
    rest = tokens[1:]
    out = []
    if rest and all(len(t) > 1 for t in rest):
        out.append("".join(rest))
    if last_alone and len(tokens) >= 3 and len(tokens[-1]) > 1:
        out.append(tokens[-1])
    return [s for s in dict.fromkeys(out) if len(s) >= MIN_SHORT_SURNAME_LEN]


def _other_orders(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Surname-first rotations and the full reversal of a multi-word name."""
    orders = {tokens[k:] + tokens[:k] for k in range(1, len(tokens))}
    orders.add(tuple(reversed(tokens)))
    orders.discard(tokens)
    return sorted(orders)


def _given_before(prompt: str, tokens: list[Token], i: int, given: list[str]) -> bool:
    """Whether the artist's given name, perhaps declined, comes right before ``tokens[i]``;
    a case ending written after an apostrophe counts with it (Polish "Claude'a Moneta")."""
    before = tokens[i - 1]
    if (i > 1 and len(before.text) <= 3 and prompt[tokens[i - 2].end : before.start] in ("'", "’")
            and before.end < tokens[i].start):
        glued = tokens[i - 2]
        return not prompt[before.end : tokens[i].start].strip() and any(glued.text == g for g in given)
    return _given_form(prompt, before, tokens[i], given)


def _given_form(prompt: str, before: Token, first: Token, given: list[str]) -> bool:
    """Whether the word before a surname is the artist's given name, perhaps declined.

    "Grega" (Greg), "Jacka" (Jacek), "Ильи" (Илья): the word shares all but the last two
    letters of the given name (at least three) and is at most three letters longer.
    """
    if prompt[before.end : first.start].strip():
        return False
    for g in given:
        if before.text == g:
            return True
        stem = g[: max(3, len(g) - 2)]
        if len(g) >= 3 and before.text.startswith(stem) and len(before.text) <= len(g) + 3:
            return True
    return False


def _someone_else(prompt: str, before: Token, first: Token, given: list[str] = ()) -> bool:  # type: ignore[assignment]
    """Whether the word before a surname is a capitalised given name of another person.

    An uncommon capitalised word ("Chinedu Okonkwo"), or a common word that is a frequent
    given name ("Maxim Gorky"), unless it spells one of the artist's own given names.
    """
    gap = prompt[before.end : first.start]
    if gap.strip():  # punctuation between them: "painting, Okonkwo"
        return False
    if _given_form(prompt, before, first, list(given)) or not prompt[before.start : before.start + 1].isupper():
        return False
    if givennames.is_variant(before.text, list(given)):
        return False  # "Vasily Kandinsky" for a registered "Wassily Kandinsky"
    if not lexicon.is_common(before.text):
        return True
    # A common word that is also a frequent given name ("Maxim Gorky"; see ``screening.givennames``);
    # one of the most given names even when it is a frequent word ("Harry Potter", "Franco
    # Modigliani"), unless its capital is title case ("Misty Forest Kandinsky").
    return givennames.another_persons_given_name(before.text, list(given), frequency.zipf(before.text),
                                                 top_names=not _title_case_before(prompt, before.start))


def _title_case_before(prompt: str, start: int) -> bool:
    """Whether the word before ``start`` is capitalised too, with only a space between (a title-case run)."""
    k = start
    while k > 0 and prompt[k - 1] == " ":
        k -= 1
    if k == start or k == 0 or not prompt[k - 1].isalpha():
        return False
    j = k
    while j > 0 and prompt[j - 1].isalpha():
        j -= 1
    return prompt[j].isupper()


def _surname_first_other(prompt: str, last: Token, after: Token, given: list[str]) -> bool:
    """Whether the word right after a surname is another person's given name, surname first.

    "Yoshida Shigeru", "Kim Minjun", "Szinyei Pál": a capitalised word, not a common word,
    that is a frequent given name in a country that writes the family name first
    (``givennames.is_surname_first_given_name``) and none of the artist's own given names.
    """
    if prompt[last.end : after.start] != " " or not prompt[after.start : after.start + 1].isupper():
        return False
    if after.text in given or givennames.is_variant(after.text, list(given)) or lexicon.is_common(after.text):
        return False
    return givennames.is_surname_first_given_name(after.text) and frequency.zipf(after.text) < givennames.MAX_WORD_ZIPF


def _best(hits: list[NameHit]) -> list[NameHit]:
    """Each artist's best hit where its hits overlap; weak hits yield to others' strong hits,
    and a lone surname in another script (``skeleton-surname``) to any other hit on its words."""
    order = sorted(hits, key=lambda h: (-h.score, h.how not in _STRONG, h.via != AS_WRITTEN, -(h.end - h.start), h.start))
    kept: list[NameHit] = []
    for hit in order:
        strong = hit.how in _STRONG
        clash = any(
            other.start < hit.end
            and hit.start < other.end
            and (other.artist_id == hit.artist_id or (not strong and other.how in _STRONG)
                 or hit.how in ("skeleton-surname", "skeleton-misspelt"))  # a lone word: the weakest evidence
            for other in kept
        )
        if not clash:
            kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, -(h.end - h.start), h.artist_id))
