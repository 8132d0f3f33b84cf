"""Score distributions of the image check on StyleWorld, for setting thresholds.

Registers every StyleWorld artist with 6 reference works (as the demo does), then checks
held-out renders: the true artist's style score, the best wrong artist's style score, and
the closest single-work score of images that are not copies (near-duplicate threshold).
Run: python bench/calibrate_image.py
"""

from __future__ import annotations

import numpy as np

from stylegate.bench.fixtures import styleworld_workspace
from stylegate.governance.matching.neardup import pixel_signature
from stylegate.governance.matching.scores import match_image
from stylegate.styleworld import world


def main() -> None:
    with styleworld_workspace() as ws:
        gate = ws.gate()
        ids = {a.name: a.id for a in gate.view.artists.values()}
        k = gate.policy.image.neighbours
        true, other, clip_closest, pixel_closest = [], [], [], []
        for artist in world.ARTISTS:
            images = [world.render(artist, s, seed) for s in world.SUBJECTS for seed in world.heldout_seeds()[:2]]
            for image, vector in zip(images, ws.embedder.embed_images(images)):
                match = match_image(vector, gate.view, k, pixel_signature(image))
                style = {s.artist_id: s.score for s in match.style}
                true.append(style.get(ids[artist.name], -1.0))
                other.append(max((v for a, v in style.items() if a != ids[artist.name]), default=-1.0))
                clip_closest.append(match.neighbours[0][1])
                pixel_closest.append(max(d.score for d in match.near_duplicates))
        t, o, c, p = map(np.array, (true, other, clip_closest, pixel_closest))
        th = gate.policy.thresholds
        print(f"thresholds: style {th.style}, near-duplicate {th.near_duplicate}; {len(t)} held-out renders")
        print(f"style, true artist   p1/p5/p50: {np.percentile(t, [1, 5, 50]).round(3)}  ≥ threshold: {np.mean(t >= th.style):.3f}")
        print(f"style, wrong artist  p50/p99/max: {np.percentile(o, [50, 99, 100]).round(3)}  ≥ threshold: {np.mean(o >= th.style):.3f}")
        print(f"closest work by CLIP cosine (no copies) p50/p99/max: {np.percentile(c, [50, 99, 100]).round(3)}")
        print(f"closest work by pixel correlation (no copies) p50/p99/max: {np.percentile(p, [50, 99, 100]).round(3)}  ≥ near-dup threshold: {np.mean(p >= th.near_duplicate):.3f}")
        print("(unregistered-artist case: best registered artist's style score when the true artist is left out")
        print(" of the registry is tested in tests/test_matching.py)")


if __name__ == "__main__":
    main()
