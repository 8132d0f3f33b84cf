"""Steering: rewrite a prompt so that it no longer carries an opted-out artist's style.

"Steer" answers a prompt that names or describes an artist who opted out without refusing
the user: the subject is generated, the style is not. A longer negative prompt alone does
not do that when the prompt still spells the style out, so the rewrite removes what carries
it and keeps the rest:

1. the artist's names and aliases, with a dangling "by" / "in the style of" before them;
2. descriptive phrases, found by how much the artist's description score drops when a
   phrase is taken out. A phrase is a candidate only when it describes the artist on its own
   (its own score reaches a floor), so the subject, which does not, is kept. Candidates are
   the prompt's phrases (split at commas and prepositions) and, inside a phrase, runs of
   words that leave the phrase's last word (in English the head noun: "a teal dotted
   strokes *lighthouse*") in place. The largest drop goes first, until the score is below
   the threshold by a margin.

The subject is never cut (the steer's promise is the subject without the style): the head
word of the prompt's subject phrase, found by grammar and by the score (:func:`subject_readings`),
stays, whatever a candidate that holds it scores. A long noun
phrase is split before "of" ("a cat made | of teal dotted strokes"), so that its head is the
subject's and not the material's; a colon ends a phrase as a comma does.

Each level of :func:`rewrite` removes more: a lower floor and a wider margin. What was
removed, why and the scores before and after are returned, so the user sees the rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from stylegate.governance.decision import EvidenceKind

# Words that open a modifying phrase in prompts ("a boat *in* …", "*on* cream paper"), in the
# languages prompts are commonly written in. A phrase boundary, never removed on its own.
PHRASE_OPENERS = frozenset("""
in on with over under against across from at using through into onto upon beside behind near like
featuring inspired im mit auf unter dans avec sur sous en con sobre bajo em com sopra sotto nel sulla
""".split())
# Function words that may be left dangling by a cut ("a boat in", "and red"): tidied away.
_DANGLING = PHRASE_OPENERS | frozenset("a an the and or of by , ; as style styled manner after".split())
_WORD = re.compile(r"[^\s,;:]+")
_BREAKS = (",", ";", ":")
# A noun phrase of at least this many words is split before "of": "a cat made | of teal
# strokes", while "a picture of a cat" stays one phrase whose head is the subject.
OF_SPLIT_WORDS = 3
MAX_RUN = 5  # longest run of words tried as one candidate inside a phrase
# Articles that introduce the subject's noun phrase ("a boat", "un bateau", "ein Boot").
ARTICLES = frozenset("a an the un une des le la les ein eine der die das el los las uma um o os il lo".split())
# A modifying phrase left in the rewrite goes too when taking it out lowers the artist's
# description score by at least this much.
MODIFIER_DROP = 0.03


@dataclass(frozen=True)
class Level:
    floor: float  # a candidate's own score must reach this (the threshold minus this margin)
    margin: float  # stop once the artist's score is this far below the threshold


LEVELS = (Level(floor=0.22, margin=0.15), Level(floor=0.32, margin=0.25), Level(floor=0.42, margin=0.35))


@dataclass
class Removal:
    text: str
    start: int
    end: int
    artist_id: int
    kind: EvidenceKind  # NAME or DESCRIPTION: what carried the style
    drop: float  # fall of the artist's description score when this was taken out

    def to_dict(self) -> dict:
        return {"text": self.text, "span": [self.start, self.end], "artist": self.artist_id, "kind": self.kind.value,
                "score_drop": round(self.drop, 4)}


@dataclass
class Rewrite:
    prompt: str
    removed: list[Removal] = field(default_factory=list)
    scores: dict[int, tuple[float, float]] = field(default_factory=dict)  # artist → (before, after)
    level: int = 0

    def to_dict(self) -> dict:
        return {
            "removed": [r.to_dict() for r in self.removed],
            "scores": {str(a): {"before": round(b, 4), "after": round(c, 4)} for a, (b, c) in self.scores.items()},
            "level": self.level,
        }


ScoreFn = Callable[[Sequence[str], int], np.ndarray]  # texts, artist id → description scores


def rewrite(
    prompt: str,
    name_spans: dict[int, list[tuple[int, int]]],
    described: Sequence[int],
    score: ScoreFn,
    threshold: float | Callable[[int], float],
    level: int = 0,
) -> Rewrite:
    """The prompt without what carries the styles of the steered artists.

    ``name_spans``: each steered artist's name hits (spans in ``prompt``); ``described``: the
    steered artists whose description score is to be brought under ``threshold`` (one number,
    or the threshold that applies to an artist id).
    """
    threshold_of = threshold if callable(threshold) else (lambda _artist, t=float(threshold): t)
    lv = LEVELS[min(level, len(LEVELS) - 1)]
    removed: list[Removal] = []
    for artist_id, spans in name_spans.items():
        for start, end in spans:
            start = _with_lead_in(prompt, start)
            removed.append(Removal(prompt[start:end], start, end, artist_id, EvidenceKind.NAME, 0.0))
    spans = [(r.start, r.end) for r in removed]
    result = Rewrite(prompt, removed, level=level)
    for artist_id in described:
        before = float(score([cut(prompt, spans)], artist_id)[0])
        after = _remove_description(prompt, spans, removed, artist_id, score, threshold_of(artist_id), lv, before)
        result.scores[artist_id] = (before, after)
    result.prompt = cut(prompt, spans)
    result.removed.sort(key=lambda r: r.start)
    return result


def _remove_description(
    prompt: str, spans: list[tuple[int, int]], removed: list[Removal], artist_id: int, score: ScoreFn,
    threshold: float, lv: Level, current: float,
) -> float:
    """Remove descriptive phrases until the artist's score is under the level's target, never
    the subject: the subject's words as both readings find them are kept first; when that
    cannot get under the target, each reading alone is tried (the first that gets under wins,
    else the rewrite that keeps both)."""
    target = threshold - lv.margin
    if current < target:
        return current
    first: tuple[list[tuple[int, int]], list[Removal], float] | None = None
    for protected in subject_readings(prompt, score, artist_id):
        s, r = list(spans), list(removed)
        after = _remove_protected(prompt, s, r, artist_id, score, threshold, lv, current, protected)
        if first is None:
            first = (s, r, after)
        if after < target:
            first = (s, r, after)
            break
    assert first is not None  # subject_readings always gives at least one reading
    spans[:], removed[:] = first[0], first[1]
    return first[2]


def _remove_protected(
    prompt: str, spans: list[tuple[int, int]], removed: list[Removal], artist_id: int, score: ScoreFn,
    threshold: float, lv: Level, current: float, protected: Sequence[tuple[int, int]],
) -> float:
    target = threshold - lv.margin
    candidates = [c for c in _candidates(prompt) if not _overlaps(c, protected)]
    if not candidates:
        return current
    alone = score([prompt[s:e] for s, e in candidates], artist_id)
    removable = [c for c, own in zip(candidates, alone) if own >= threshold - lv.floor]
    while current >= target:
        options = [c for c in removable if not any(c[0] < e and s < c[1] for s, e in spans)]
        options = [c for c in options if cut(prompt, [*spans, c])]  # never cut the whole prompt
        if not options:
            break
        after = score([cut(prompt, [*spans, c]) for c in options], artist_id)
        best = int(np.argmax(current - after))
        if current - after[best] <= 0.0:
            break
        start, end = options[best]
        spans.append((start, end))
        removed.append(Removal(prompt[start:end], start, end, artist_id, EvidenceKind.DESCRIPTION, float(current - after[best])))
        current = float(after[best])
    return _remove_modifiers(prompt, spans, removed, artist_id, score, current, protected)


def _remove_modifiers(
    prompt: str, spans: list[tuple[int, int]], removed: list[Removal], artist_id: int, score: ScoreFn, current: float,
    protected: Sequence[tuple[int, int]] = (),
) -> float:
    """Then the rest of the description: phrases that modify rather than name the subject
    ("on a black ground", a bare "strokes" after a comma) and still raise the artist's score.

    A phrase that opens with a preposition, or one that is not introduced by an article, is
    taken to be a modifier; a phrase introduced by an article ("a boat") is the subject's.
    """
    while True:
        options = [
            (s, e) for s, e, opener, article in _phrases(prompt)
            if (opener or not article) and not any(s < b and a < e for a, b in spans) and not _overlaps((s, e), protected)
            and cut(prompt, [*spans, (s, e)])
        ]
        if not options:
            return current
        after = score([cut(prompt, [*spans, c]) for c in options], artist_id)
        best = int(np.argmax(current - after))
        if current - after[best] < MODIFIER_DROP:
            return current
        start, end = options[best]
        spans.append((start, end))
        removed.append(Removal(prompt[start:end], start, end, artist_id, EvidenceKind.DESCRIPTION, float(current - after[best])))
        current = float(after[best])


def _phrases(prompt: str) -> list[tuple[int, int, bool, bool]]:
    """The prompt's phrases as (start, end, opens with a preposition, opens with an article)."""
    return [(p[0][0], p[-1][1], _opens_modifier(p), p[0][2].lower() in ARTICLES) for p in _split_phrases(prompt)]


def subject_readings(prompt: str, score: ScoreFn | None = None, artist_id: int = 0) -> list[list[tuple[int, int]]]:
    """Where the prompt's subject is, as spans of the words no rewrite may remove.

    Two readings: by grammar, the head (last word) of the first noun phrase (one that opens
    with neither a preposition nor "of") that opens with an article, else of the first noun
    phrase; by ``score``, the head of the phrase that describes the artist least on its own
    ("a white background, red blocks, boat" has no article before its subject). Returned:
    both together first, then each alone (distinct readings only).
    """
    phrases = _split_phrases(prompt)
    nouns = [i for i, p in enumerate(phrases) if not _opens_modifier(p)]
    readings: list[list[tuple[int, int]]] = []
    if nouns:
        with_article = [i for i in nouns if phrases[i][0][2].lower() in ARTICLES]
        readings.append([_head(phrases[with_article[0] if with_article else nouns[0]])])
    scored = [i for i, p in enumerate(phrases) if p[0][2].lower() not in PHRASE_OPENERS]  # "of a cat" may be it
    if score is not None and len(scored) > 1:
        own = score([prompt[phrases[i][0][0] : phrases[i][-1][1]] for i in scored], artist_id)
        by_score = [_head(phrases[scored[int(np.argmin(own))]])]
        if not readings:
            readings = [by_score]
        elif by_score != readings[0]:
            readings = [sorted(set(readings[0] + by_score)), by_score, readings[0]]
    return readings or [[]]


def subject_spans(prompt: str, score: ScoreFn | None = None, artist_id: int = 0) -> list[tuple[int, int]]:
    """The subject's words under both readings of :func:`subject_readings`."""
    return subject_readings(prompt, score, artist_id)[0]


def _head(phrase: list[tuple[int, int, str]]) -> tuple[int, int]:
    return phrase[-1][0], phrase[-1][1]


def _opens_modifier(phrase: list[tuple[int, int, str]]) -> bool:
    """A phrase that opens with a preposition, or with the "of" a long noun phrase was split at."""
    return phrase[0][2].lower() in PHRASE_OPENERS or (phrase[0][2].lower() == "of" and len(phrase) > 1)


def _overlaps(span: tuple[int, int], others: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in others)


def _split_phrases(prompt: str) -> list[list[tuple[int, int, str]]]:
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(prompt)]
    phrases: list[list[tuple[int, int, str]]] = []
    current: list[tuple[int, int, str]] = []
    for w in words:
        lower = w[2].lower()
        if current and (lower in PHRASE_OPENERS or (lower == "of" and len(current) >= OF_SPLIT_WORDS)):
            phrases.append(current)
            current = []
        current.append(w)
        if prompt[w[1] : w[1] + 1] in _BREAKS:
            phrases.append(current)
            current = []
    if current:
        phrases.append(current)
    return phrases


def _candidates(prompt: str) -> list[tuple[int, int]]:
    """Phrases, and runs of words inside a phrase that keep its last word (the head)."""
    out: dict[tuple[int, int], None] = {}
    for phrase in _split_phrases(prompt):
        out[(phrase[0][0], phrase[-1][1])] = None
        if _opens_modifier(phrase):
            body = phrase[1:]  # a modifying phrase: any run of its words
        else:
            body = phrase[:-1] if len(phrase) > 1 else []  # a noun phrase: keep its head
        for i in range(len(body)):
            for j in range(i, min(len(body), i + MAX_RUN)):
                # runs start and end on words that carry meaning ("red mosaic", not "a red")
                if body[i][2].lower().strip(",;:") not in _DANGLING and body[j][2].lower().strip(",;:") not in _DANGLING:
                    out[(body[i][0], body[j][1])] = None
    return list(out)


def _with_lead_in(prompt: str, start: int) -> int:
    """Widen a name's span to take "by", "art by", "in the style of" … before it along."""
    head = prompt[:start]
    m = re.search(r"(?i)(\b(art\s+)?by|\bin\s+the\s+(style|manner)\s+of|\bstyle\s+of|\bafter|\bà\s+la)\s*$", head)
    return m.start() if m else start


def cut(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` without ``spans``, tidied: no dangling joiners, no doubled spaces or commas."""
    out, last = [], 0
    for start, end in sorted(spans):
        if start >= last:
            out.append(text[last:start])
            last = end
        else:
            last = max(last, end)
    out.append(text[last:])
    return tidy("".join(out))


def tidy(text: str) -> str:
    """Collapse spaces and punctuation a cut left, and joiners with nothing to join."""
    joiners = "|".join(sorted((re.escape(w) for w in _DANGLING if w.isalpha()), key=len, reverse=True))
    openers = "|".join(sorted((re.escape(w) for w in _DANGLING - {"a", "an", "the"} if w.isalpha()), key=len, reverse=True))
    before_break = re.compile(rf"(?i)\b(?:{joiners})\s*(?=[,;:]|$)")
    after_break = re.compile(rf"(?i)(^)\s*(?:{openers})\b\s*")
    doubled = re.compile(rf"(?i)\b(?:{openers})\s+(?=(?:{openers})\b)")
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"\s+", " ", text).strip()
        text = re.sub(r"\s+([,;:.])", r"\1", text)
        text = re.sub(r"([,;:])(\s*[,;:])+", r"\1", text)
        text = before_break.sub("", text)
        text = after_break.sub(lambda m: m.group(1) + " ", text)
        text = doubled.sub("", text)
        text = text.strip(" ,;:")
    return text
