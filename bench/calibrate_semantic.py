"""Score distributions of the semantic prompt check on StyleWorld, for setting thresholds.

Registers every StyleWorld artist (descriptors + 6 reference works, as the demo does) in a
temp home, then scores held-out captions of each kind with the gate's description score:
the true artist's score and the best wrong artist's score. Then it scores neutral prompts
made of English words the StyleWorld CLIP never saw in training (the next 4,000 words of the
frequency list after its distractor vocabulary, red-team corpus words excluded): the best
artist's score, which the threshold must stay above.
Run: python bench/calibrate_semantic.py
"""

from __future__ import annotations

import numpy as np

from stylegate.bench.fixtures import styleworld_workspace
from stylegate.governance.matching.scores import description_scores
from stylegate.styleworld import world

CAPTIONS_PER_PAIR = 4


def main() -> None:
    with styleworld_workspace() as ws:
        gate = ws.gate()
        ids = {a.name: a.id for a in gate.view.artists.values()}
        threshold = gate.policy.thresholds.description
        print(f"description threshold in the policy: {threshold}")
        for kind in ("described", "named", "plain"):
            true, other = [], []
            for artist in world.ARTISTS:
                for subject in world.SUBJECTS:
                    for text in world.all_captions(artist, subject, kind, split="heldout")[:CAPTIONS_PER_PAIR]:
                        scores = {s.artist_id: s.score for s in description_scores(ws.embedder.embed_texts([text])[0], gate.view)}
                        me = ids[artist.name]
                        true.append(scores[me])
                        other.append(max(v for k, v in scores.items() if k != me))
            t, o = np.array(true), np.array(other)
            print(
                f"{kind:9s} n={len(t):4d}  true artist p1/p5/p50: {np.percentile(t, [1, 5, 50]).round(3)}"
                f"  best wrong artist p50/p99/max: {np.percentile(o, [50, 99, 100]).round(3)}"
                f"  true ≥ threshold: {np.mean(t >= threshold):.3f}  wrong ≥ threshold: {np.mean(o >= threshold):.3f}"
            )
        style_only_scores(ws, gate, ids)
        neutral_scores(ws, gate)


def unseen_neutral_prompts(n: int = 600, seed: int = 1) -> list[str]:
    """Prompts of 2-8 words from outside the training vocabulary (validation, not the red-team test)."""
    from stylegate.bench.redteam import corpus_words
    from stylegate.styleworld.distractors import DistractorSampler, vocabulary

    words = vocabulary(16_000, held_out=corpus_words())[12_000:]
    sampler = DistractorSampler(words, [], np.random.default_rng(seed))
    return [", ".join(sampler.phrase() for _ in range(int(sampler.rng.integers(1, 3)))) for _ in range(n)]


def style_only_scores(ws, gate, ids: dict[str, int]) -> None:
    """Style phrases with no subject, in phrasings not used in training ("zigzag stripes in orange")."""
    threshold = gate.policy.thresholds.description
    true, other = [], []
    for artist in world.ARTISTS:
        for ink in artist.ink_words:
            for pattern in artist.pattern_words:
                for text in (f"{ink} {pattern} over {artist.paper_words[-1]}", f"{pattern} in {ink}"):
                    scores = {s.artist_id: s.score for s in description_scores(ws.embedder.embed_texts([text])[0], gate.view)}
                    me = ids[artist.name]
                    true.append(scores[me])
                    other.append(max(v for k, v in scores.items() if k != me))
    t, o = np.array(true), np.array(other)
    print(f"style     n={len(t):4d}  true artist p1/p5/p50: {np.percentile(t, [1, 5, 50]).round(3)}"
          f"  best wrong artist p50/p99/max: {np.percentile(o, [50, 99, 100]).round(3)}"
          f"  true ≥ threshold: {np.mean(t >= threshold):.3f}  wrong ≥ threshold: {np.mean(o >= threshold):.3f}")


def neutral_scores(ws, gate) -> None:
    threshold = gate.policy.thresholds.description
    best = []
    for text in unseen_neutral_prompts():
        scores = description_scores(ws.embedder.embed_texts([text])[0], gate.view)
        best.append(max(s.score for s in scores))
    b = np.array(best)
    print(f"neutral   n={len(b):4d}  best artist p50/p99/p99.9/max: {np.percentile(b, [50, 99, 99.9, 100]).round(3)}"
          f"  ≥ threshold: {np.mean(b >= threshold):.3f}")


if __name__ == "__main__":
    main()
