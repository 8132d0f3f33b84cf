"""The policy gate: prompt and image checks that return explained decisions.

Registered detectors (:mod:`.detectors`: names, descriptions, styles, near-duplicates, and
any added with :meth:`PolicyGate.register`) report scores above their thresholds; the gate
makes them evidence with the policy's action for the artist's consent state; the strongest
action wins. Anything that goes wrong inside a check blocks (fails closed) and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from stylegate.errors import InputError, InvalidPrompt
from stylegate.governance import steering
from stylegate.governance.attribution import attribution_shares
from stylegate.governance.decision import Action, ArtistRef, Decision, Evidence, EvidenceKind, kind_text
from stylegate.governance.detectors import (
    DescriptionDetector,
    Detector,
    Finding,
    ImageSubject,
    PromptSubject,
    Reads,
    default_detectors,
)
from stylegate.governance.matching.neardup import pixel_signature
from stylegate.governance.matching.scores import artist_description_margins, artist_description_scores
from stylegate.governance.matching.thresholds import check_binding
from stylegate.governance.matching.view import RegistryView
from stylegate.governance.policy import Policy
from stylegate.governance.screening.canonical import is_ignorable, tokenize
from stylegate.governance.screening.names import NameHit
from stylegate.governance.steering import LEVELS as STEER_LEVELS
from stylegate.registry.models import Consent

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from stylegate.governance.embedder import ClipEmbedder
    from stylegate.registry.models import Artist

log = logging.getLogger(__name__)

TEXT_CACHE_SIZE = 4096  # text vectors kept per gate (64-512 floats each)


class PolicyGate:
    def __init__(self, policy: Policy, embedder: ClipEmbedder | None, view: RegistryView,
                 detectors: Sequence[Detector] | None = None) -> None:
        self.policy = policy
        self.embedder = embedder
        self.view = view
        # Thresholds fitted for another embedder are refused here (ThresholdsForeign), or,
        # with `semantic = "name-only"`, turn the description and style checks off.
        self._text_cache: dict[str, np.ndarray] = {}
        self.binding = check_binding(policy.calibration, embedder.identity if embedder is not None else None,
                                     policy.source or "policy")
        self.detectors: list[Detector] = []
        for detector in default_detectors() if detectors is None else detectors:
            self.register(detector)

    def register(self, detector: Detector) -> None:
        """Add a detector: its evidence joins every later check of what it reads.

        Raises PolicyError when the policy has no action for its kind under some consent state,
        so a detector can never produce evidence the policy cannot act on.
        """
        if any(d.kind == detector.kind for d in self.detectors):
            raise ValueError(f"a detector of kind {kind_text(detector.kind)!r} is already registered")
        for consent in Consent:
            self.policy.action_for(consent.value, detector.kind)
        self.detectors.append(detector)

    # ---------------------------------------------------------------- prompts
    def validate_prompt(self, text: str) -> str:
        if not isinstance(text, str):
            raise InvalidPrompt("prompt must be text")
        stripped = text.strip()
        if not stripped:
            raise InvalidPrompt("prompt is empty")
        if all(ch.isspace() or is_ignorable(ch) for ch in stripped):
            raise InvalidPrompt("prompt is empty (it holds only invisible characters)")
        limit = self.policy.prompt.max_chars
        if len(text) > limit:
            raise InvalidPrompt(f"prompt is {len(text)} characters; the policy limit is {limit}")
        return stripped

    def check_prompt(self, text: str) -> Decision:
        """Screen a prompt by name and by meaning. Raises InputError for unusable prompts."""
        prompt = self.validate_prompt(text)
        return self._guarded("prompt", lambda: self._check_prompt(prompt))

    def _check_prompt(self, prompt: str, steer: bool = True) -> Decision:
        subject = PromptSubject(prompt)
        evidence = self._detect("prompt", subject)
        decision = self._decide("prompt", evidence)
        self._note_binding(decision)
        if decision.action is Action.STEER and steer:
            self._steer(prompt, subject.name_hits, decision)
        return decision

    def semantic_prompts(self) -> bool:
        """Whether prompts are also screened by meaning (an embedder, bound thresholds, prototypes)."""
        return (self.embedder is not None and self.binding.semantic
                and bool(self.view.prototypes.size or self.view.text_prototypes.size))

    def _action(self, artist: Artist, kind: str, rule: str) -> tuple[Action, str]:
        """The policy's action for this evidence; an unverified opt-out is capped by the policy."""
        action = self.policy.action_for(artist.consent.value, kind)
        if artist.verified or artist.consent is not Consent.OPT_OUT:
            return action, rule
        cap = Action(self.policy.verification.unverified_opt_out)
        if action.severity > cap.severity:
            return cap, f"{rule}; unverified artist: {action.value} capped to {cap.value}"
        return action, rule

    def _note_binding(self, decision: Decision) -> None:
        if not self.binding.semantic:
            decision.reasons.append(self.binding.reason)

    def _steer(self, prompt: str, hits: list[NameHit], decision: Decision, level: int = 0) -> None:
        """Rewrite a steered prompt; a rewrite that still carries the style after every level blocks."""
        for lv in range(level, len(STEER_LEVELS)):
            plan = self.steer_plan(prompt, hits, decision, lv)
            if plan["cleared"]:
                decision.steer = plan
                return
        decision.steer = plan
        decision.action = Action.BLOCK
        decision.reasons.append(
            "steering could not take the style out of the prompt (the rewrite "
            f"{plan['prompt']!r} still {plan['recheck']['action']}s), so the gate blocks")

    def steer_plan(self, prompt: str, hits: list[NameHit] | None, decision: Decision, level: int = 0) -> dict:
        """The rewrite at ``level`` (higher removes more), re-checked; see :mod:`.steering`."""
        steered = sorted({e.artist.id for e in decision.evidence if e.action is Action.STEER})
        if hits is None:
            hits = self.view.names.find(prompt, tokenize(prompt))
        name_spans: dict[int, list[tuple[int, int]]] = {}
        for h in hits:
            if h.artist_id in steered:
                name_spans.setdefault(h.artist_id, []).append((h.start, h.end))
        rewrite = steering.rewrite(prompt, name_spans, steered if self.semantic_prompts() else [], self._description_of,
                                   lambda a: DescriptionDetector().threshold(self, a)[0], level)
        negatives: list[str] = []
        for item in rewrite.removed:
            if item.kind == EvidenceKind.DESCRIPTION and item.text not in negatives:
                negatives.append(item.text)
        for artist_id in steered:
            artist = self.view.artists[artist_id]
            for term in (artist.name, *artist.descriptors):
                if term not in negatives:
                    negatives.append(term)
        recheck = self._check_prompt(rewrite.prompt, steer=False) if rewrite.prompt.strip() else None
        still = sorted({e.artist.id for e in (recheck.evidence if recheck else [])
                        if e.artist.id in steered or e.action is Action.BLOCK})
        cleared = recheck is not None and recheck.action is not Action.BLOCK and not still
        names = ", ".join(self.view.artists[a].name for a in steered)
        return {
            "prompt": rewrite.prompt,
            "negative_prompt": ", ".join(negatives),
            "artists": steered,
            **rewrite.to_dict(),
            "recheck": {"action": recheck.action.value if recheck else "block",
                        "artists": still, "reasons": recheck.reasons if recheck else ["nothing is left of the prompt"]},
            "cleared": cleared,
            "why": (f"the prompt carried the style of {names}, who opted out: "
                    + (", ".join(repr(r.text) for r in rewrite.removed) or "nothing") + " taken out"),
        }

    def _description_of(self, texts: Sequence[str], artist_id: int) -> np.ndarray:
        """Description scores of ``texts`` for one artist (the steering's measure)."""
        if self.embedder is None:
            raise RuntimeError("no embedder configured")
        if self.policy.thresholds.description_score == "margin":
            return artist_description_margins(self.text_vectors(texts), self.view, artist_id)
        return artist_description_scores(self.text_vectors(texts), self.view, artist_id)

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Text vectors, embedding only texts this gate has not seen: steering scores the same
        phrases at every level, and a rewrite is re-checked as a prompt."""
        if self.embedder is None:
            raise RuntimeError("no embedder configured")
        cache = self._text_cache
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            if len(cache) + len(missing) > TEXT_CACHE_SIZE:
                cache.clear()
            cache.update(zip(missing, self.embedder.embed_texts(missing)))
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, self.embedder.dim), np.float32)

    # ----------------------------------------------------------------- images
    def check_image(self, image: Image.Image) -> Decision:
        if self.embedder is None:
            return self._guarded("image", _raise("no embedder configured"))
        embedder = self.embedder
        return self._guarded(
            "image", lambda: self.check_image_vector(embedder.embed_images([image])[0], pixel_signature(image))
        )

    def check_inputs(self, inputs: dict[str, Image.Image]) -> Decision:
        """Check the images a pipeline takes (img2img init image, style or IP-Adapter reference).

        Each is matched like a checked image; its evidence names the input it came from, so an
        opted-out artist's work (or a near-duplicate of it) used as an input blocks the generation.
        """
        import dataclasses

        evidence: list[Evidence] = []
        for name, image in inputs.items():
            checked = self.check_image(image)
            if checked.error is not None:
                return dataclasses.replace(checked, subject="image-input",
                                           reasons=[f"input {name!r}: {r}" for r in checked.reasons])
            evidence.extend(dataclasses.replace(e, detail={**e.detail, "input": name}) for e in checked.evidence)
        decision = self._decide("image-input", evidence)
        decision.reasons = [f"input {e.detail['input']!r}: {r}" for e, r in zip(decision.evidence, decision.reasons)] \
            if decision.evidence else ["no registered artist's work among the input images"]
        return decision

    def check_image_vector(self, vector: np.ndarray, signature: np.ndarray | None = None) -> Decision:
        """Check an embedded image; ``signature`` (its pixel signature) enables near-duplicates."""
        decision = self._decide("image", self._detect("image", ImageSubject(vector, signature)))
        self._note_binding(decision)
        return decision

    # ---------------------------------------------------------------- shared
    def _detect(self, reads: Reads, subject: PromptSubject | ImageSubject) -> list[Evidence]:
        """Every registered detector that reads ``reads``, its findings made evidence, in registration order."""
        return [self._evidence(d.kind, f) for d in self.detectors if d.reads == reads for f in d.detect(self, subject)]

    def _evidence(self, kind: str, finding: Finding) -> Evidence:
        artist = self.view.artists[finding.artist_id]
        action, rule = self._action(artist, kind, finding.rule)
        return Evidence(
            kind=kind,
            artist=ArtistRef(artist.id, artist.name),
            consent=artist.consent.value,
            score=finding.score,
            threshold=finding.threshold,
            rule=rule,
            action=action,
            detail=finding.detail,
            verified=artist.verified,
        )

    def _decide(self, subject: str, evidence: list[Evidence]) -> Decision:
        evidence = sorted(evidence, key=lambda e: (-e.action.severity, -e.score, e.artist.id))
        action = max((e.action for e in evidence), key=lambda a: a.severity, default=Action.ALLOW)
        attribution = []
        if action in (Action.ALLOW, Action.ATTRIBUTE):
            attribution = attribution_shares(evidence, self.policy.attribution.floor,
                                             self.policy.verification.hold_unverified_shares)
            action = Action.ATTRIBUTE if attribution else Action.ALLOW
        reasons = [
            f"{kind_text(e.kind)} evidence for {e.consent}{'' if e.verified else ' (unverified)'} artist {e.artist.name!r}: "
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
