"""The policy gate: prompt and image checks that return explained decisions.

Detectors (names, prompt semantics, image neighbours) produce scores; the policy turns
scores above thresholds into evidence with an action per consent state; the strongest
action wins. Anything that goes wrong inside a check blocks (fails closed) and says why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

import numpy as np

from stylegate.errors import InputError, InvalidPrompt
from stylegate.governance.attribution import attribution_shares
from stylegate.governance.canonical import tokenize
from stylegate.governance.decision import Action, ArtistRef, Decision, Evidence, EvidenceKind
from stylegate.governance.matching import description_scores, match_image
from stylegate.governance.names import NameHit
from stylegate.governance.neardup import pixel_signature
from stylegate.governance.policy import Policy
from stylegate.governance.view import RegistryView

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from stylegate.governance.embedder import Embedder

log = logging.getLogger(__name__)


class PolicyGate:
    def __init__(self, policy: Policy, embedder: "Embedder | None", view: RegistryView) -> None:
        self.policy = policy
        self.embedder = embedder
        self.view = view

    # ---------------------------------------------------------------- prompts
    def validate_prompt(self, text: str) -> str:
        if not isinstance(text, str):
            raise InvalidPrompt("prompt must be text")
        stripped = text.strip()
        if not stripped:
            raise InvalidPrompt("prompt is empty")
        limit = self.policy.prompt.max_chars
        if len(text) > limit:
            raise InvalidPrompt(f"prompt is {len(text)} characters; the policy limit is {limit}")
        return stripped

    def check_prompt(self, text: str) -> Decision:
        """Screen a prompt by name and by meaning. Raises InputError for unusable prompts."""
        prompt = self.validate_prompt(text)
        return self._guarded("prompt", lambda: self._check_prompt(prompt))

    def _check_prompt(self, prompt: str) -> Decision:
        evidence: list[Evidence] = []
        threshold = self.policy.thresholds.name
        rules = self.policy.names.rules()
        hits = [h for h in self.view.names.find(prompt, tokenize(prompt), rules) if h.score >= threshold]
        strongest: dict[int, NameHit] = {}
        for hit in hits:
            if hit.artist_id not in strongest or hit.score > strongest[hit.artist_id].score:
                strongest[hit.artist_id] = hit
        evidence.extend(self._name_evidence(hit, prompt) for hit in strongest.values())
        if self.embedder is not None and (self.view.prototypes.size or self.view.text_prototypes.size):
            query = self.embedder.embed_texts([prompt])[0]
            evidence.extend(self._semantic_evidence(query))
        decision = self._decide("prompt", evidence)
        if decision.action is Action.STEER:
            decision.steer = self._steer_plan(prompt, hits, decision)
        return decision

    def _name_evidence(self, hit: NameHit, prompt: str) -> Evidence:
        artist = self.view.artists[hit.artist_id]
        kind = EvidenceKind.NAME
        return Evidence(
            kind=kind,
            artist=ArtistRef(artist.id, artist.name),
            consent=artist.consent.value,
            score=hit.score,
            threshold=self.policy.thresholds.name,
            rule=hit.describe(),
            action=self.policy.action_for(artist.consent.value, kind),
            detail={
                "matched": hit.matched,
                "text": prompt[hit.start : hit.end],
                "span": [hit.start, hit.end],
                **hit.evidence(),
            },
        )

    def _semantic_evidence(self, query: np.ndarray) -> list[Evidence]:
        threshold = self.policy.thresholds.description
        return [
            self._evidence(EvidenceKind.DESCRIPTION, item.artist_id, item.score, threshold, item.rule, item.detail)
            for item in description_scores(query, self.view)
            if item.score >= threshold
        ]

    def _steer_plan(self, prompt: str, hits: list[NameHit], decision: Decision) -> dict:
        steered = {e.artist.id for e in decision.evidence if e.action is Action.STEER}
        spans = sorted((h.start, h.end) for h in hits if h.artist_id in steered)
        rewritten = _cut_spans(prompt, spans)
        negatives: list[str] = []
        for artist_id in sorted(steered):
            artist = self.view.artists[artist_id]
            negatives.append(artist.name)
            negatives.extend(artist.descriptors)
        return {"prompt": rewritten, "negative_prompt": ", ".join(negatives), "artists": sorted(steered)}

    # ----------------------------------------------------------------- images
    def check_image(self, image: "Image.Image") -> Decision:
        if self.embedder is None:
            return self._guarded("image", _raise("no embedder configured"))
        embedder = self.embedder
        return self._guarded(
            "image", lambda: self.check_image_vector(embedder.embed_images([image])[0], pixel_signature(image))
        )

    def check_image_vector(self, vector: np.ndarray, signature: np.ndarray | None = None) -> Decision:
        """Check an embedded image; ``signature`` (its pixel signature) enables near-duplicates."""
        match = match_image(vector, self.view, self.policy.image.neighbours, signature)
        evidence = []
        t_style = self.policy.thresholds.style
        t_dup = self.policy.thresholds.near_duplicate
        for item in match.style:
            if item.score >= t_style:
                evidence.append(self._evidence(EvidenceKind.STYLE, item.artist_id, item.score, t_style, item.rule, item.detail))
        for item in match.near_duplicates:
            if item.score >= t_dup:
                evidence.append(self._evidence(EvidenceKind.NEAR_DUPLICATE, item.artist_id, item.score, t_dup, item.rule, item.detail))
        return self._decide("image", evidence)

    # ---------------------------------------------------------------- shared
    def _evidence(self, kind: EvidenceKind, artist_id: int, score: float, threshold: float, rule: str, detail: dict) -> Evidence:
        artist = self.view.artists[artist_id]
        return Evidence(
            kind=kind,
            artist=ArtistRef(artist.id, artist.name),
            consent=artist.consent.value,
            score=score,
            threshold=threshold,
            rule=rule,
            action=self.policy.action_for(artist.consent.value, kind),
            detail=detail,
        )

    def _decide(self, subject: str, evidence: list[Evidence]) -> Decision:
        evidence = sorted(evidence, key=lambda e: (-e.action.severity, -e.score, e.artist.id))
        action = max((e.action for e in evidence), key=lambda a: a.severity, default=Action.ALLOW)
        attribution = []
        if action in (Action.ALLOW, Action.ATTRIBUTE):
            attribution = attribution_shares(evidence, self.policy.attribution.floor)
            action = Action.ATTRIBUTE if attribution else Action.ALLOW
        reasons = [
            f"{e.kind.value} evidence for {e.consent} artist {e.artist.name!r}: "
            f"score {e.score:.3f} ≥ {e.threshold:.3f} ({e.rule}) → {e.action.value}"
            for e in evidence
        ] or ["no registered artist matched"]
        return Decision(
            subject=subject,
            action=action,
            evidence=evidence,
            attribution=attribution,
            reasons=reasons,
            policy_version=self.policy.version,
            embedder=self.embedder.identity.to_dict() if self.embedder is not None else {},
        )

    def _guarded(self, subject: str, check: Callable[[], Decision]) -> Decision:
        """Run a check; any failure other than bad input becomes a block (fail closed)."""
        try:
            return check()
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - failing closed is the point
            log.exception("%s check failed; blocking", subject)
            return Decision(
                subject=subject,
                action=Action.BLOCK,
                reasons=[f"check failed, so the gate blocks: {type(exc).__name__}: {exc}"],
                policy_version=self.policy.version,
                embedder=self.embedder.identity.to_dict() if self.embedder is not None else {},
                error=f"{type(exc).__name__}: {exc}",
            )


def _raise(message: str) -> Callable[[], Decision]:
    def fail() -> Decision:
        raise RuntimeError(message)

    return fail


def _cut_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Remove spans (and a dangling "by"/"in the style of" before them) and tidy spaces."""
    import re

    out, last = [], 0
    for start, end in spans:
        if start < last:
            continue
        head = text[last:start]
        head = re.sub(r"(?i)\b(by|in the style of|style of|in the manner of|after)\s*$", "", head)
        out.append(head)
        last = end
    out.append(text[last:])
    cleaned = re.sub(r"\s+", " ", "".join(out)).strip(" ,;")
    return re.sub(r"\s+([,.;])", r"\1", cleaned)
