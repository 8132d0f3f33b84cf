"""Does a steered output show the prompt's subject? Asked of the gate's own embedder.

A steer promises the subject without the style. The post-check sees to the style; this
check sees to the subject, so that the generator can sample another candidate when an
output lost it (:class:`stylegate.generator.gated.GatedGenerator`). It never reads an
independent judge: only the gate's CLIP.

The subject's word is read from the (rewritten) prompt by grammar
(:func:`stylegate.governance.steering.subject_readings`). The output is scored against the
prompt and against *contrast* prompts: the same prompt with that word swapped for each noun
of a vocabulary of picture subjects (``subject_nouns.txt``, or the policy's
``steering.subject_vocabulary``). The margin is the output's cosine with the prompt minus its
best cosine with a contrast prompt; the subject is *found* when the margin is above
``min_margin``. A relative test, not a cosine threshold: absolute cosines differ between
embedders and between prompts, a ranking among alternatives does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from stylegate.governance.steering import subject_readings

TextVectors = Callable[[Sequence[str]], np.ndarray]


@lru_cache(maxsize=1)
def bundled_nouns() -> tuple[str, ...]:
    """The bundled vocabulary of picture subjects (``subject_nouns.txt``)."""
    text = resources.files("stylegate.governance").joinpath("subject_nouns.txt").read_text("utf-8")
    return tuple(dict.fromkeys(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#")))


@dataclass(frozen=True)
class SubjectScore:
    """How well one output shows the prompt's subject."""

    subject: str  # the word read as the subject
    score: float  # cosine of the output with the prompt
    rival: str  # the contrast noun the output matches best
    rival_score: float  # its cosine
    found: bool  # margin > min_margin

    @property
    def margin(self) -> float:
        return self.score - self.rival_score

    def to_dict(self) -> dict:
        return {"subject": self.subject, "found": self.found, "margin": round(self.margin, 4),
                "score": round(self.score, 4), "rival": self.rival, "rival_score": round(self.rival_score, 4)}


class SubjectCheck:
    """The subject test for one prompt: its text vectors are embedded once, outputs scored many times."""

    def __init__(self, prompt: str, text_vectors: TextVectors, vocabulary: Sequence[str] | None = None,
                 min_margin: float = 0.0) -> None:
        self.prompt = prompt
        self.min_margin = min_margin
        spans = subject_readings(prompt)[0]
        if not spans:
            raise ValueError(f"no subject word in {prompt!r}")
        start, end = spans[-1]
        self.subject = prompt[start:end].strip(".,;:!?").lower()
        nouns = [n for n in (bundled_nouns() if vocabulary is None else vocabulary) if n.lower() != self.subject]
        if not nouns:
            raise ValueError("the subject vocabulary has no noun to contrast the subject with")
        word = re.escape(prompt[start:end].strip(".,;:!?"))
        self.rivals = list(nouns)
        contrast = [prompt[:start] + re.sub(word, n, prompt[start:end], count=1) + prompt[end:] for n in nouns]
        vectors = text_vectors([prompt, *contrast])
        self._prompt_vector = vectors[0]
        self._contrast = vectors[1:]

    def score(self, image_vector: np.ndarray) -> SubjectScore:
        """Score one output's (L2-normalised) image vector."""
        own = float(self._prompt_vector @ image_vector)
        sims = self._contrast @ image_vector
        best = int(np.argmax(sims))
        rival = float(sims[best])
        return SubjectScore(self.subject, own, self.rivals[best], rival, own - rival > self.min_margin)
