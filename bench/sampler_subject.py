"""How sampling settings change what a StyleWorld pipeline draws (issue #13's diagnosis).

For each sampling setting, the pipeline draws every StyleWorld subject from the plain prompt
("a boat", no gate) at SEEDS fixed seeds, and the independent subject classifier
(``styleworld.subject_classifier``, fitted on renders only) says whether it shows the
subject: the share overall and per subject. With ``--style SETTING`` it also draws one image
per artist × subject, named ("a boat by NAME") and described ("a boat in <their style>"), and
the independent style classifier says whether it is in that artist's style (and the subject
classifier whether it shows the subject).

Run: OMP_NUM_THREADS=1 nice -n 5 python bench/sampler_subject.py PIPELINE_DIR \\
         '[{}, {"eta": 1.0}, {"steps": 10}, {"guidance": 2.0}]' --seeds 12 --style '{"eta": 1.0}' [--json OUT]

A setting is a JSON object with any of ``steps`` (25), ``guidance`` (3.0), ``eta`` (0.0).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np


def draw(pipe: Any, prompts: list[str], seeds: list[int], steps: int = 25, guidance: float = 3.0,
         eta: float = 0.0, batch: int = 48) -> list[Any]:
    """One PIL image per (prompt, seed)."""
    import torch
    from PIL import Image

    out = []
    for i in range(0, len(prompts), batch):
        gens = [torch.Generator().manual_seed(s) for s in seeds[i:i + batch]]
        ims = pipe(prompts[i:i + batch], generator=gens, num_inference_steps=steps, guidance_scale=guidance, eta=eta,
                   output_type="np").images
        out += [Image.fromarray((im * 255 + 0.5).astype(np.uint8)) for im in ims]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pipeline", help="a StyleWorld pipeline folder")
    p.add_argument("settings", nargs="?", default="[{}]", help="JSON list of sampling settings")
    p.add_argument("--seeds", type=int, default=6, help="seeds per subject")
    p.add_argument("--style", default=None, help="JSON setting for the style-fidelity draw (skipped when absent)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()

    import torch
    from diffusers.pipelines.pipeline_utils import DiffusionPipeline

    from stylegate.styleworld import style_classifier
    from stylegate.styleworld import subject_classifier as sc
    from stylegate.styleworld.world import ARTISTS, SUBJECTS, describe

    torch.set_num_threads(1)
    started = time.process_time()
    pipe = DiffusionPipeline.from_pretrained(args.pipeline, trust_remote_code=True)
    pipe.set_progress_bar_config(disable=True)
    judge = sc.fit_default()
    results: dict[str, Any] = {"pipeline": args.pipeline, "seeds": args.seeds, "plain": {}}
    for setting in json.loads(args.settings):
        labels = [s for s in SUBJECTS for _ in range(args.seeds)]
        seeds = [7000 + 10 * si + k for si in range(len(SUBJECTS)) for k in range(args.seeds)]
        found = [p == t for p, t in zip(judge.predict(draw(pipe, [f"a {s}" for s in labels], seeds, **setting)), labels)]
        per = {s: float(np.mean([f for f, lab in zip(found, labels) if lab == s])) for s in SUBJECTS}
        results["plain"][json.dumps(setting)] = {"subject_found": float(np.mean(found)), "per_subject": per}
        print(f"{json.dumps(setting):40s} plain subject {100 * np.mean(found):5.1f}% of {len(found)}  "
              + " ".join(f"{s} {100 * v:.0f}%" for s, v in per.items()), flush=True)
    if args.style is not None:
        setting = json.loads(args.style)
        styles = style_classifier.fit_default(n_seeds=12, sizes=(32,))
        for kind in ("named", "described"):
            pairs = [(a, s) for a in ARTISTS for s in SUBJECTS]
            prompts = [f"a {s} by {a.name}" if kind == "named" else f"a {s} in {describe(a)}" for a, s in pairs]
            seeds = [9000 + 100 * ai + si for ai in range(len(ARTISTS)) for si in range(len(SUBJECTS))]
            images = draw(pipe, prompts, seeds, **setting)
            style_ok = [p == a.name for p, (a, _) in zip(styles.predict(images), pairs)]
            subject_ok = [p == s for p, (_, s) in zip(judge.predict(images), pairs)]
            per_artist = {a.name: float(np.mean([o for o, (b, _) in zip(style_ok, pairs) if b is a])) for a in ARTISTS}
            results[kind] = {"style": float(np.mean(style_ok)), "subject_found": float(np.mean(subject_ok)),
                             "per_artist": per_artist, "setting": setting}
            print(f"{kind:10s} style {100 * np.mean(style_ok):5.1f}%  subject {100 * np.mean(subject_ok):5.1f}% of "
                  f"{len(pairs)}  " + " ".join(f"{k} {100 * v:.0f}%" for k, v in per_artist.items()), flush=True)
    results["cpu_seconds"] = round(time.process_time() - started, 1)
    print(f"CPU {results['cpu_seconds']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
