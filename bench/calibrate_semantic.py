"""Score distributions of the semantic prompt check on StyleWorld, for setting thresholds.

Registers every StyleWorld artist (descriptors + 6 reference works, as the demo does) in a
temp home, then scores held-out captions of each kind with the gate's description score:
the true artist's score and the best wrong artist's score.
Run: python bench/calibrate_semantic.py
"""

from __future__ import annotations


import numpy as np

from stylegate.demo import styleworld_workspace
from stylegate.governance.matching import description_scores
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


if __name__ == "__main__":
    main()
