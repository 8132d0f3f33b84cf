"""Trace early-abort previews and choose ``EarlyAbortConfig`` from the trace (issue #13).

``stylegate bench generate`` replays a few margins at the configured preview points; this
traces densely, so the preview points, margin and ``confirm`` can all be chosen from one set
of runs:

1. **Trace.** The calibration prompts of ``stylegate bench generate`` (its doomed and
   allowed candidates, interleaved) run as the generator would run them, each with
   ``seeds`` seeds: the first attempt (the steered rewrite, the negative prompt only when the
   policy pushes on the first attempt) and, for a steered prompt, also the first retry (the
   level-1 rewrite, the pushed-away styles, guidance raised by the retry step). Previews are
   taken after every fraction in :data:`TRACE_AT` of the run and never stop it; each records
   the largest margin (score - threshold) of its rejecting evidence. The finished image is
   post-checked: a run it rejects is *doomed*, the others *pass*.
2. **Replay.** Every candidate (preview points, margin, confirm) is replayed on the recorded
   previews: doomed runs stopped, steps saved on them, and false aborts (runs that pass but
   would have been stopped).
3. **Rule.** A false abort costs a retry, and three in a row block a prompt that would have
   been drawn, so the budget is read on the *steered* runs (the described opted-out styles,
   first attempt and retry: the runs a steer bench's blocks come from; the unsteered allowed
   prompts never carry rejecting evidence late in the run and would only dilute the rate).
   Among candidates that, on the *choosing* seeds, stop at least :data:`CATCH_FLOOR` of the
   doomed runs and falsely stop at most :data:`FALSE_ABORT_BUDGET` of the steered runs that
   pass (the 4% ceiling the eta-0 calibration reached), take the one that saves the most
   steps on doomed runs; ties go to fewer previews (each costs a CLIP embedding), then to the
   middle of the tied margins (the value least sensitive to a shift in preview scores). The
   chosen candidate is then read on the held-out seeds, which played no part in choosing it.

Run: ``OMP_NUM_THREADS=1 nice -n 5 python -m stylegate.bench.early_abort_trace [--seeds 2] [--json OUT]``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRACE_AT = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FALSE_ABORT_BUDGET = 0.04
CATCH_FLOOR = 0.9
MARGINS = tuple(round(0.02 * i, 2) for i in range(0, 31))
CONFIRMS = (1, 2)
PARTS = ("choosing", "held_out", "all", "steered choosing", "steered held_out")


def candidate_point_sets(at: tuple[float, ...] = TRACE_AT) -> list[tuple[float, ...]]:
    """Preview-point sets to replay: from each start, every traced point after it, every
    second one, and the start alone (a grid, not picked by hand)."""
    sets: set[tuple[float, ...]] = set()
    for i in range(len(at)):
        sets.add(tuple(at[i:]))
        sets.add(tuple(at[i::2]))
        sets.add((at[i],))
    return sorted(sets, key=lambda s: (s[0], len(s), s))


def trace(gen: Any, prompts: list[str], *, steps: int, seed: int, seeds: int = 2, retries: bool = True,
          at: tuple[float, ...] = TRACE_AT, progress: bool = True) -> list[dict[str, Any]]:
    """One record per traced pipeline run (see the module doc, step 1)."""
    from tqdm import tqdm

    from stylegate.generator.early_abort import REJECTING, EarlyAbortConfig
    from stylegate.generator.gated import GatedGenerator, steered_prompt
    from stylegate.governance.decision import Action

    gate = gen.gate
    rejecting = {a.value for a in REJECTING}
    tracer = GatedGenerator(gate, gen.pipeline, guidance_scale=gen.guidance_scale,
                            early_abort=EarlyAbortConfig(at=at, margin=-2.0, confirm=len(at) + 1))
    first_push = gate.policy.steering.negative_prompt == "always"
    jobs: list[tuple[int, int, str, str, str | None, float, int]] = []
    for i, prompt in enumerate(prompts):
        pre = gate.check_prompt(prompt)
        if pre.action is Action.BLOCK:
            continue
        used, negative = steered_prompt(prompt, pre)
        plans = [(used, negative if first_push else None, gen.guidance_scale, 1)]
        if retries and pre.action is Action.STEER:
            plan = gate.steer_plan(prompt, None, pre, level=1)
            if plan["cleared"] and plan["prompt"]:
                plans.append((plan["prompt"], plan["negative_prompt"] or negative, gen.guidance_scale + gen.retry_guidance_step, 2))
        for k in range(seeds):
            for text, neg, guidance, attempt in plans:
                jobs.append((i, k, text, prompt, neg, guidance, attempt))
    runs: list[dict[str, Any]] = []
    for i, k, text, prompt, neg, guidance, attempt in tqdm(jobs, desc="tracing previews", disable=not progress, file=sys.stderr):
        s = seed + 500 + 97 * k + i + 1_000_003 * (attempt - 1)
        run = tracer.run_pipeline(text, seed=s, steps=steps, negative_prompt=neg, guidance_scale=guidance, interrupt=False)
        if run.monitor is None:
            raise RuntimeError("early-abort tracer ran without a preview monitor")
        post = gate.check_image(run.image)
        runs.append({
            "prompt": prompt, "used": text, "seed": s, "fold": k, "attempt": attempt,
            "doomed": post.action in REJECTING, "output_action": post.action.value, "planned": run.steps_planned,
            "points": [p.step for p in run.monitor.previews],
            "margins": [max((e["score"] - e["threshold"] for e in p.evidence if e["action"] in rejecting), default=None)
                        for p in run.monitor.previews],
        })
    return runs


def replay(runs: list[dict[str, Any]], points: tuple[float, ...], margin: float, confirm: int, steps: int) -> dict[str, Any]:
    """What ``EarlyAbortConfig(at=points, margin=margin, confirm=confirm)`` would have done on ``runs``."""
    from stylegate.generator.early_abort import EarlyAbortConfig

    wanted = set(EarlyAbortConfig(at=points, margin=margin, confirm=confirm).preview_steps(steps))
    caught = false = saved = planned = doomed = 0
    for r in runs:
        streak, stop = 0, None
        for step, seen in zip(r["points"], r["margins"]):
            if step not in wanted:
                continue
            streak = streak + 1 if seen is not None and seen >= margin else 0
            if streak >= confirm:
                stop = step
                break
        if r["doomed"]:
            doomed += 1
            planned += r["planned"]
            if stop is not None:
                caught += 1
                saved += r["planned"] - stop
        elif stop is not None:
            false += 1
    passed = len(runs) - doomed
    return {
        "at": list(points), "margin": margin, "confirm": confirm, "previews": len(wanted),
        "doomed": doomed, "caught": caught, "caught_rate": round(caught / doomed, 4) if doomed else None,
        "steps_saved_fraction": round(saved / planned, 4) if planned else 0.0,
        "passed": passed, "false_aborts": false, "false_abort_rate": round(false / passed, 4) if passed else 0.0,
    }


def steered(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of prompts the pre-check steered (the prompt sent differs from the one asked)."""
    return [r for r in runs if r["used"] != r["prompt"]]


def choose(runs: list[dict[str, Any]], steps: int, budget: float = FALSE_ABORT_BUDGET,
           floor: float = CATCH_FLOOR) -> dict[str, Any]:
    """The rule of the module doc on ``runs``: every candidate's replay, and the chosen one."""
    at_risk = steered(runs)
    rows = []
    for pts, m, c in itertools.product(candidate_point_sets(), MARGINS, CONFIRMS):
        row = replay(runs, pts, m, c, steps)
        row["steered"] = replay(at_risk, pts, m, c, steps)
        rows.append(row)
    ok = [r for r in rows if r["steered"]["false_abort_rate"] <= budget and (r["caught_rate"] or 0.0) >= floor]
    best = None
    if ok:
        top = max(ok, key=lambda r: (r["steps_saved_fraction"], -r["previews"]))
        tied = sorted((r for r in ok if r["steps_saved_fraction"] == top["steps_saved_fraction"] and r["at"] == top["at"]
                       and r["confirm"] == top["confirm"]), key=lambda r: r["margin"])
        best = tied[(len(tied) - 1) // 2]
    return {"rows": rows, "chosen": best, "budget": budget, "floor": floor}


ETA0_CONFIG: dict[str, Any] = {"at": [0.4, 0.6, 0.8], "margin": 0.08, "confirm": 1}  # calibrated under deterministic DDIM


def run_trace_bench(steps: int = 25, seed: int = 0, seeds: int = 2, retries: bool = True) -> dict[str, Any]:
    """Trace (module doc, step 1) on ``stylegate bench generate``'s calibration prompts, then :func:`summarise`."""
    from stylegate.bench.generate import _allowed_candidates, _doomed_candidates, _setup
    from stylegate.generator.early_abort import EarlyAbortConfig
    from stylegate.generator.gated import GatedGenerator

    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="stylegate-eatrace-") as tmp:
        ws, pipeline, (registered, unregistered) = _setup(Path(tmp))
        gen = GatedGenerator(ws.gate(), pipeline, early_abort=EarlyAbortConfig())
        mixed = [p for pair in zip(_doomed_candidates(registered), _allowed_candidates(registered, unregistered)) for p in pair]
        runs = trace(gen, mixed, steps=steps, seed=seed, seeds=seeds, retries=retries)
        eta = _default_eta(pipeline)
    res = {"steps": steps, "seeds": seeds, "retries": retries, "prompts": len(mixed), "eta": eta,
           "seconds": round(time.perf_counter() - started, 1), "cpu_seconds": round(time.process_time() - cpu, 1),
           "load_average": [round(x, 2) for x in os.getloadavg()], "trace": runs}
    return summarise(res)


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    """Replay and choose on a trace (``res["trace"]``): fold 0 chooses, the other folds check."""
    from stylegate.generator.early_abort import EarlyAbortConfig

    runs, steps = res["trace"], res["steps"]
    choosing = [r for r in runs if r["fold"] == 0]
    held_out = [r for r in runs if r["fold"] != 0]
    picked = choose(choosing, steps)
    default = EarlyAbortConfig()
    configs: dict[str, dict[str, Any]] = {"eta-0 calibration": ETA0_CONFIG,
               "default": {"at": list(default.at), "margin": default.margin, "confirm": default.confirm}}
    chosen = picked["chosen"]
    if chosen is not None:
        configs["chosen"] = {"at": chosen["at"], "margin": chosen["margin"], "confirm": chosen["confirm"]}
    res.update({
        "runs": len(runs), "budget": picked["budget"], "floor": picked["floor"], "candidates": len(picked["rows"]),
        "configs": {label: {"config": cfg, **{name: replay(part, tuple(cfg["at"]), cfg["margin"], cfg["confirm"], steps)
                                              for name, part in _parts(choosing, held_out)}}
                    for label, cfg in configs.items()},
    })
    return res


def _parts(choosing: list[dict[str, Any]], held_out: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [("choosing", choosing), ("held_out", held_out), ("all", choosing + held_out),
            ("steered choosing", steered(choosing)), ("steered held_out", steered(held_out))]


def _default_eta(pipeline: Any) -> float | None:
    import inspect

    try:
        return float(inspect.signature(pipeline.__call__).parameters["eta"].default)
    except (KeyError, TypeError, ValueError):
        return None


def print_trace_bench(res: dict[str, Any]) -> None:
    from stylegate.output import table

    rows = []
    for label, figures in res["configs"].items():
        cfg = figures["config"]
        for part in PARTS:
            r = figures[part]
            rows.append([f"{label} {cfg['at']} margin {cfg['margin']} confirm {cfg['confirm']}: {part}",
                         f"{r['caught']} / {r['doomed']}", f"{100 * r['steps_saved_fraction']:.1f} %",
                         f"{r['false_aborts']} / {r['passed']} ({100 * r['false_abort_rate']:.1f} %)"])
    table(f"early abort traced on {res['runs']} runs (eta {res['eta']}, {res['steps']} steps, {res['seeds']} seeds; "
          f"rule, on the choosing seeds: false aborts ≤ {100 * res['budget']:.0f} % of passing steered runs, "
          f"≥ {100 * res['floor']:.0f} % of doomed runs stopped, then most steps saved)",
          ["config: runs", "doomed runs stopped", "steps saved on doomed", "false aborts (final image passes)"], rows)
    print(f"{res['candidates']} candidates replayed; trace {res['seconds']} s wall, {res['cpu_seconds']} s CPU, load {res['load_average']}")


def main(argv: list[str] | None = None) -> None:
    import argparse

    import torch

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--seeds", type=int, default=2, help="seeds per prompt (seed 0 chooses, the rest check)")
    p.add_argument("--no-retries", action="store_true", help="trace first attempts only")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--from", dest="source", default=None, help="re-read a trace written by --json instead of tracing")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.source:
        res = summarise(json.loads(Path(args.source).read_text()))
    else:
        res = run_trace_bench(steps=args.steps, seeds=args.seeds, retries=not args.no_retries)
    print_trace_bench(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":  # pragma: no cover
    main()
