"""Normalised vs raw style scores on StyleWorld, as work counts and registry sizes vary.

Embeds 12 training renders per StyleWorld artist (the works ``register_styleworld`` would
register: subject ``(i + k) % 8``, training seed k) and 4 held-out renders per artist and
subject. For registries of 4, 8 and 12 artists (the 4-artist ones: three disjoint groups,
the worst reported) with 6 and 12 works each, every held-out render -- of registered artists
and of unregistered ones -- is scored against every registered artist, raw (mean cosine of
the 3 closest works) and normalised (governance/matching/style_norm.py). FRR: the true artist below
the threshold; FAR: some other artist at or above it (renders of unregistered artists count
as impostors); worst: the highest per-artist FRR. Every artist is scored (the gate scores only
those among the FAISS neighbours, so its FAR can only be lower).

Run: nice -n 10 python bench/style_scores.py [--normalised 0.72] [--cosine 0.57]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    from stylegate.governance.matching.scores import STYLE_TOP_M
    from stylegate.governance.matching.style_norm import style_norms
    from stylegate.governance.policy import load_policy
    from stylegate.settings import Settings
    from stylegate.styleworld import world
    from stylegate.workspace import Workspace

    shipped = load_policy().thresholds
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normalised", type=float, default=shipped.style)
    parser.add_argument("--cosine", type=float, default=shipped.style_cosine)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Settings(home=Path(tmp) / "home", device="cpu"))
        ws.configure_threads()
        from stylegate.operations.ingest import init_home

        init_home(ws)
        works = {i: ws.embedder.embed_images([world.render(a, world.SUBJECTS[(i + k) % 8], world.train_seeds()[k])
                                              for k in range(12)]) for i, a in enumerate(world.ARTISTS)}
        held, owner = [], []
        for i, a in enumerate(world.ARTISTS):
            for s in world.SUBJECTS:
                for seed in world.heldout_seeds()[:4]:
                    held.append(world.render(a, s, seed))
                    owner.append(i)
        queries = ws.embedder.embed_images(held)
    owner_arr = np.array(owner)

    def top_mean(sims: np.ndarray) -> np.ndarray:
        return np.sort(sims, axis=1)[:, -min(STYLE_TOP_M, sims.shape[1]):].mean(axis=1)

    def rates(scores: np.ndarray, reg: list[int], t: float) -> tuple[float, float, float]:
        col = {a: j for j, a in enumerate(reg)}
        registered = np.isin(owner_arr, reg)
        own = np.array([scores[r, col[o]] for r, o in enumerate(owner) if o in col])
        other = np.array([[a != o for a in reg] for o in owner])
        far = float(((scores >= t) & other).any(axis=1).mean())
        per = [float(np.mean(scores[owner_arr == a, col[a]] < t)) for a in reg]
        return float(np.mean(own < t)) if registered.any() else 0.0, far, max(per)

    print(f"thresholds: normalised {args.normalised}, cosine {args.cosine}; {len(held)} held-out renders")
    for n_artists in (4, 8, 12):
        groups = [list(range(g, g + 4)) for g in (0, 4, 8)] if n_artists == 4 else [list(range(n_artists))]
        for n_works in (6, 12):
            results: dict[str, list[tuple[float, float, float]]] = {"normalised": [], "cosine": []}
            for reg in groups:
                raw = np.stack([top_mean(queries @ works[a][:n_works].T) for a in reg], axis=1)
                norms = style_norms({a: (np.arange(n_works), works[a][:n_works]) for a in reg}, STYLE_TOP_M)
                imp = np.array([norms[a].impostor for a in reg])
                gen = np.array([norms[a].genuine for a in reg])
                results["normalised"].append(rates((raw - imp) / (gen - imp), reg, args.normalised))
                results["cosine"].append(rates(raw, reg, args.cosine))
            line = []
            for kind, r in results.items():
                frr, far, worst = np.max(np.array(r), axis=0)
                ok = frr <= 0.02 and far <= 0.01 and worst <= 0.05
                line.append(f"{kind}: FRR {frr:.2%} FAR {far:.2%} worst {worst:.1%} ({'met' if ok else 'NOT met'})")
            print(f"{n_artists:2d} artists x {n_works:2d} works  " + "  |  ".join(line))


if __name__ == "__main__":
    main()
