"""Detectors: each finds one kind of evidence; the gate turns findings into evidence and action.

A detector reads a prompt or an image and reports, per artist, a score, the threshold it
crossed, the rule that fired and the details that explain it. It knows nothing of consent
or actions: the gate asks the policy for the action of the artist's consent state and the
detector's kind. A new evidence kind is one new detector registered on the gate
(:meth:`~stylegate.governance.gate.PolicyGate.register`) plus its action in the policy's
consent table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from stylegate.governance.decision import EvidenceKind, kind_text
from stylegate.governance.matching.scores import ArtistScore, ImageMatch, description_scores, match_image
from stylegate.governance.screening.canonical import tokenize

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.gate import PolicyGate
    from stylegate.governance.screening.names import NameHit

log = logging.getLogger(__name__)

Reads = Literal["prompt", "image"]


@dataclass(frozen=True)
class Finding:
    """One artist's score from one detector, already above the threshold that applies to it."""

    artist_id: int
    score: float
    threshold: float
    rule: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PromptSubject:
    """A validated prompt; detectors leave what others need on it (steering reads the name hits)."""

    text: str
    name_hits: list[NameHit] = field(default_factory=list)


@dataclass
class ImageSubject:
    """An embedded image and its pixel signature; the registry match is computed once, on demand."""

    vector: np.ndarray
    signature: np.ndarray | None = None
    _match: ImageMatch | None = None

    def match(self, gate: PolicyGate) -> ImageMatch:
        if self._match is None:
            self._match = match_image(self.vector, gate.view, gate.policy.image.neighbours, self.signature)
        return self._match


@runtime_checkable
class Detector(Protocol):
    """What the gate needs of a detector: its evidence kind, what it reads, and its findings."""

    @property
    def kind(self) -> str:
        """An :class:`EvidenceKind` for the built-in detectors; any other string names a new kind."""
        ...

    @property
    def reads(self) -> Reads:
        """What it reads: "prompt" or "image"."""
        ...

    def detect(self, gate: PolicyGate, subject: Any) -> list[Finding]:
        """Findings above threshold for ``subject`` (a :class:`PromptSubject` or :class:`ImageSubject`)."""
        ...


def calibrated_threshold(gate: PolicyGate, kind: str, threshold: float, artist_id: int) -> tuple[float, str]:
    """The threshold that applies to ``artist_id`` for ``kind`` and why: "global" or "per-artist: …"."""
    own = gate.policy.calibration.artist_threshold(kind_text(kind), artist_id)
    artist = gate.view.artists.get(artist_id)
    if own is None or (own.artist and artist is not None and own.artist != artist.name):
        return threshold, "global"  # none fitted, or fitted for an artist whose id was since reused
    return own.threshold, (f"per-artist: FRR {own.global_frr:.1%} at global threshold {threshold:.3f} "
                           f"(FRR {own.frr:.1%} at this one)")


class NameDetector:
    """Artist names and aliases in the prompt, the way people write them (:mod:`.screening.names`)."""

    kind = EvidenceKind.NAME
    reads: Reads = "prompt"

    def detect(self, gate: PolicyGate, subject: PromptSubject) -> list[Finding]:
        threshold = gate.policy.thresholds.name
        # At debug level the candidates that needed context and had none are logged with why.
        dropped: list[tuple[NameHit, str]] | None = [] if log.isEnabledFor(logging.DEBUG) else None
        found = gate.view.names.find(subject.text, tokenize(subject.text), gate.policy.names.rules(), dropped)
        for hit, why in dropped or ():
            log.debug("name candidate %r (%s) not counted: %s", subject.text[hit.start : hit.end], hit.matched, why)
        hits = [h for h in found if h.score >= threshold]
        subject.name_hits = hits
        strongest: dict[int, NameHit] = {}
        for hit in hits:
            if hit.artist_id not in strongest or hit.score > strongest[hit.artist_id].score:
                strongest[hit.artist_id] = hit
        prompt = subject.text
        return [
            Finding(hit.artist_id, hit.score, threshold, hit.describe(), {
                "matched": hit.matched,
                "text": prompt[hit.start : hit.end],
                "span": [hit.start, hit.end],
                **hit.evidence(),
            })
            for hit in strongest.values()
        ]


class DescriptionDetector:
    """A prompt that describes an artist's style in words (its text vector against the prototypes)."""

    kind = EvidenceKind.DESCRIPTION
    reads: Reads = "prompt"

    def threshold(self, gate: PolicyGate, artist_id: int) -> tuple[float, str]:
        return calibrated_threshold(gate, self.kind, gate.policy.thresholds.description, artist_id)

    def detect(self, gate: PolicyGate, subject: PromptSubject) -> list[Finding]:
        if not gate.semantic_prompts():
            return []
        query = gate.text_vectors([subject.text])[0]
        # No artist's threshold is below the lowest that applies to anyone: scores under it
        # cannot fire, so only artists at or above it become records (O(1) objects per prompt).
        floor = min([gate.policy.thresholds.description,
                     *(t.threshold for t in gate.policy.calibration.per_artist if t.kind == kind_text(self.kind))])
        mode = gate.policy.thresholds.description_score
        out = []
        for item in description_scores(query, gate.view, floor=floor, score=mode):
            threshold, why = self.threshold(gate, item.artist_id)
            if item.score < threshold:
                continue
            rule = item.rule
            if mode == "margin":
                rival = gate.view.artists.get(item.detail["margin_over"]) if item.detail["margin_over"] is not None else None
                over = f"artist {rival.name} ({rival.id})" if rival is not None else "no other artist (0)"
                rule = f"{item.rule}, score {item.detail['plain']:.4f} minus the best other artist's: {over}"
                why = f"margin over the best other artist (policy description_score; tells look-alike styles apart); {why}"
            out.append(Finding(item.artist_id, item.score, threshold, rule, {**item.detail, "threshold_rule": why}))
        return out


class StyleDetector:
    """An image in an artist's style: its nearest registered works, scored under ``style_score``."""

    kind = EvidenceKind.STYLE
    reads: Reads = "image"

    def detect(self, gate: PolicyGate, subject: ImageSubject) -> list[Finding]:
        if not gate.binding.semantic:
            return []
        out = []
        for item in subject.match(gate).style:
            score, threshold, rule, why = self.score(gate, item)
            if score >= threshold:
                out.append(Finding(item.artist_id, score, threshold, rule,
                                   {**item.detail, "cosine": round(item.score, 4), "threshold_rule": why}))
        return out

    def score(self, gate: PolicyGate, item: ArtistScore) -> tuple[float, float, str, str]:
        """``(score, threshold, rule, why)`` of a style match under the policy's ``style_score``."""
        th = gate.policy.thresholds
        if th.style_score == "cosine":
            threshold, why = calibrated_threshold(gate, self.kind, th.style, item.artist_id)
            return item.score, threshold, item.rule, f"cosine (policy style_score); {why}"
        if th.style_score == "margin" and "margin" in item.detail:
            threshold, why = calibrated_threshold(gate, self.kind, th.style, item.artist_id)
            d = item.detail
            rival = gate.view.artists.get(d["margin_over"]) if d["margin_over"] is not None else None
            over = f"artist {rival.name} ({rival.id})" if rival is not None else "no other candidate (0)"
            return (float(d["margin"]), threshold,
                    f"{item.rule}, normalised per artist ((cosine - {d['impostor_mean']}) / ({d['genuine_mean']} - "
                    f"{d['impostor_mean']}) = {float(d['normalised']):.4f}) minus the best other: {over}",
                    f"margin over the nearest other artist (policy style_score; tells look-alike artists apart); {why}")
        if "normalised" in item.detail:
            threshold, why = calibrated_threshold(gate, self.kind, th.style, item.artist_id)
            d = item.detail
            return (float(d["normalised"]), threshold,
                    f"{item.rule}, normalised per artist: (cosine - {d['impostor_mean']}) / "
                    f"({d['genuine_mean']} - {d['impostor_mean']})",
                    f"normalised (0 = other artists' works, 1 = own works); {why}")
        return (item.score, th.style_cosine, item.rule,
                "cosine fallback: the artist has no style norm (one work, alone in the registry, or its works "
                "are no closer to each other than to strangers')")


class NearDuplicateDetector:
    """An image that is (a crop, resize or shift of) one registered work, compared pixel by pixel."""

    kind = EvidenceKind.NEAR_DUPLICATE
    reads: Reads = "image"

    def detect(self, gate: PolicyGate, subject: ImageSubject) -> list[Finding]:
        threshold = gate.policy.thresholds.near_duplicate
        return [Finding(item.artist_id, item.score, threshold, item.rule, item.detail)
                for item in subject.match(gate).near_duplicates if item.score >= threshold]


def default_detectors() -> list[Detector]:
    """The built-in detectors, in the order their evidence is listed (before sorting by action)."""
    return [NameDetector(), DescriptionDetector(), StyleDetector(), NearDuplicateDetector()]
