"""Neutral and distractor captions for training the StyleWorld CLIP.

A CLIP trained only on StyleWorld captions has never seen ordinary English. Words outside
its world land wherever their random embeddings take them, often next to some artist's
style, and the gate's description check then blocks harmless prompts. These captions teach
the text tower three things a web-scale CLIP knows:

- ``neutral``: text about nothing in StyleWorld (random English, other people's names,
  "in the style of" an unknown name, an artist's given name alone, a surname with another
  given name, part of a hyphenated surname, an English word hidden in a surname ("quill" in
  Quillfeather), a surname cut short) describes every image equally, so it maps to the
  centre of the image space, near no artist. The rules mirror the name screen's: only a
  full name, an alias or a distinctive whole surname names an artist;
- ``subject_context``: a StyleWorld subject among unrelated words is still that subject, in
  no particular style;
- ``diluted``: a style description among unrelated words is still that style.

Held out, for honest measurement: every word of a held-out list is excluded from the
vocabulary, and the invented names are drawn from syllables. The list is passed in as a file
(``heldout_words.txt`` by default: every word of the red-team corpus, written by
``python -m stylegate.bench.redteam``), so no benign or attack prompt of the corpus is seen in
training and StyleWorld imports nothing of stylegate's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .world import ARTISTS, SUBJECTS, all_captions

logger = logging.getLogger(__name__)

HELD_OUT_WORDS = Path(__file__).with_name("heldout_words.txt")

_WORD = re.compile(r"[a-z]+")
_GLUE = ("a", "the", "of", "with", "and", "in", "on", "at", "for", "near", "under", "from", "by")
_NAME_TEMPLATES = (
    "{name}", "by {name}", "in the style of {name}", "a painting by {name}", "{name}'s {w}",
    "{w} by {name}", "portrait of {name}", "{name} and {w}", "{w} {w}, {name}",
)
_GIVEN_TEMPLATES = ("{given}", "{given} {w}", "{w} for {given}", "{given}'s {w}", "{w} with {given}")
_SYLLABLES = (
    "ka", "lo", "mi", "ren", "dal", "so", "vi", "tor", "an", "bel", "cor", "du", "el", "fen",
    "gar", "hal", "is", "jun", "ke", "lum", "mar", "nes", "ol", "pa", "quin", "ru", "sel",
    "ta", "ul", "ven", "wy", "za", "bro", "che", "dri", "fa", "gu", "ho", "ja", "ny",
)


@lru_cache(maxsize=1)
def _english_frequencies() -> dict[str, int]:
    """pyspellchecker's English word -> count list (loaded once; it takes a moment)."""
    from spellchecker import SpellChecker

    return dict(SpellChecker().word_frequency.dictionary)


def _world_words() -> set[str]:
    """Every word of every StyleWorld caption: these carry meaning and must not be neutral."""
    words: set[str] = set()
    for a in ARTISTS:
        words |= set(_WORD.findall(a.name.lower()))
        for s in SUBJECTS:
            for kind in ("named", "described", "plain"):
                for split in ("train", "heldout"):
                    for text in all_captions(a, s, kind, split):
                        words |= set(_WORD.findall(text.lower()))
        for group in (a.ink_words, a.pattern_words, a.paper_words, a.composition_words, a.descriptors):
            for text in group:
                words |= set(_WORD.findall(text.lower()))
    return words


def read_word_list(path: Path) -> frozenset[str]:
    """The words of a held-out list: one a line, blank lines ignored."""
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def vocabulary(size: int = 12_000, held_out: Collection[str] = ()) -> list[str]:
    """The ``size`` most frequent English words (pyspellchecker's list), minus world and ``held_out`` words."""
    freq = _english_frequencies()
    banned = _world_words() | set(held_out) | set(_GLUE)
    ranked = sorted(((c, w) for w, c in freq.items() if w.isalpha() and w.isascii() and 3 <= len(w) <= 12),
                    reverse=True)
    out = [w for _, w in ranked if w not in banned][:size]
    logger.info("distractor vocabulary: %d words (%d world and held-out words left out)", len(out), len(banned))
    return out


def surname_fragments() -> tuple[list[str], list[str], list[str], list[str]]:
    """From the StyleWorld surnames: (surnames, parts of hyphenated ones, English words hidden
    in them, prefixes cut short). Only the whole surname (or full name) names an artist."""
    known = _english_frequencies()
    surnames, parts, words, cuts = [], [], set(), set()
    for a in ARTISTS:
        surname = " ".join(a.name.split()[1:])
        surnames.append(surname)
        pieces = surname.replace("-", " ").split()
        if len(pieces) > 1:
            parts.extend(pieces)
        for piece in pieces:
            low = piece.lower()
            for k in range(3, len(low) - 1):
                for w in (low[:k], low[k:]):
                    if len(w) >= 3 and w in known:
                        words.add(w)
            for k in range(3, len(piece) - 1):
                if piece[:k].lower() not in known:
                    cuts.add(piece[:k])
    return surnames, parts, sorted(words), sorted(cuts)


def invented_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` two-part person names built from syllables, none equal to a StyleWorld name part."""
    taken = {p for a in ARTISTS for p in a.name.lower().split()}
    names: list[str] = []
    while len(names) < n:
        parts = []
        for _ in range(2):
            part = "".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 4))))
            parts.append(part.capitalize())
        if not taken & {p.lower() for p in parts}:
            names.append(" ".join(parts))
    return names


@dataclass
class DistractorSampler:
    """Draws fresh distractor captions during training (an endless, seeded stream)."""

    words: list[str]
    names: list[str]
    rng: np.random.Generator
    fragments: tuple[list[str], list[str], list[str], list[str]] = ([], [], [], [])

    @classmethod
    def create(cls, seed: int = 0, vocab_size: int = 12_000, n_names: int = 4_000,
               held_out: Collection[str] = ()) -> DistractorSampler:
        rng = np.random.default_rng([seed, 7])
        return cls(vocabulary(vocab_size, held_out), invented_names(n_names, rng), rng, surname_fragments())

    def _pick(self, items: list[str]) -> str:
        return items[int(self.rng.integers(len(items)))]

    def fragment(self) -> str | None:
        """A near miss on a StyleWorld name, or None when there are no fragments."""
        surnames, parts, words, cuts = self.fragments
        if not surnames:
            return None
        r = self.rng.random()
        template = _NAME_TEMPLATES[int(self.rng.integers(len(_NAME_TEMPLATES)))]
        if r < 0.3:  # another person with the same surname
            given = self._pick(self.names).split()[0]
            return template.replace("{name}", f"{given} {self._pick(surnames)}").replace("{w}", self._w())
        if r < 0.5 and parts:
            return template.replace("{name}", self._pick(parts)).replace("{w}", self._w())
        if r < 0.8 and words:  # the plain English word, among other words
            word = self._pick(words)
            return self.around(f"{'a ' if self.rng.random() < 0.5 else ''}{word} {self._w()}"
                               if self.rng.random() < 0.5 else f"{self._w()} {word}")
        cut = self._pick(cuts)
        return self.around(f"the word {cut}") if self.rng.random() < 0.5 else template.replace("{name}", cut).replace("{w}", self._w())

    def _w(self) -> str:
        return self.words[int(self.rng.integers(len(self.words)))]

    def phrase(self, max_words: int = 4) -> str:
        """A short run of random words with a little glue: "the orbit of harvest"."""
        out: list[str] = []
        for _ in range(int(self.rng.integers(1, max_words + 1))):
            if out and self.rng.random() < 0.35:
                out.append(_GLUE[int(self.rng.integers(len(_GLUE)))])
            out.append(self._w())
        if self.rng.random() < 0.4:
            out.insert(0, "a" if self.rng.random() < 0.6 else "the")
        return " ".join(out)

    def neutral(self) -> str:
        """Text about nothing in StyleWorld."""
        r = self.rng.random()
        if r < 0.3:
            fragment = self.fragment()
            if fragment is not None:
                return fragment
        if r < 0.55:
            return ", ".join(self.phrase() for _ in range(int(self.rng.integers(1, 3))))
        if r < 0.85:
            template = _NAME_TEMPLATES[int(self.rng.integers(len(_NAME_TEMPLATES)))]
            name = self.names[int(self.rng.integers(len(self.names)))]
            if self.rng.random() < 0.3:
                name = name.split()[int(self.rng.integers(2))]
            return template.replace("{name}", name).replace("{w}", self._w(), 1).replace("{w}", self._w())
        # A StyleWorld artist's given name alone is not the artist.
        given = ARTISTS[int(self.rng.integers(len(ARTISTS)))].name.split()[0]
        template = _GIVEN_TEMPLATES[int(self.rng.integers(len(_GIVEN_TEMPLATES)))]
        return template.replace("{given}", given).replace("{w}", self._w())

    def around(self, core: str) -> str:
        """``core`` with unrelated phrases before and/or after it."""
        before = [self.phrase() for _ in range(int(self.rng.integers(0, 3)))]
        after = [self.phrase() for _ in range(int(self.rng.integers(0 if before else 1, 3)))]
        return ", ".join(before + [core] + after)

    def subject_context(self, subject: str) -> str:
        """A StyleWorld subject among unrelated words."""
        core = f"{'a ' if self.rng.random() < 0.7 else ''}{subject}"
        if self.rng.random() < 0.5:
            core = f"{core} {_GLUE[int(self.rng.integers(len(_GLUE)))]} {self.phrase(2)}"
        return self.around(core)
