"""`stylegate bench generate`: what the gate costs a generation, and what early abort saves.

Measured on the bundled StyleWorld pipeline and CLIP, in a temporary home with the demo's
StyleWorld artists registered (one artist per consent state left unregistered):

1. **Overhead** on prompts the gate allows (or attributes) at the first attempt, so no
   retries: the same prompts and seeds as plain pipeline calls (ungated) and through
   :class:`GatedGenerator` with early-abort previews on (gated: prompt check, previews,
   post-check, attribution). Each prompt runs ``repeats`` times in alternating order; the
   figure is ``sum(min gated) / sum(min ungated) - 1``. The gated images must equal the
   ungated ones pixel for pixel (the previews read the run, never change it).
2. **Steps saved** on runs that would be blocked at the output: candidate prompts (opted-out
   styles described, and plain subjects) are run as the gate's first attempt would run them
   (steered prompt, negative prompt) with the preview monitor in shadow mode and then
   post-checked. Runs the post-check rejects are "doomed"; each is run again with the
   monitor interrupting, and the fraction of their planned denoising steps not run is the
   figure. The shadow runs also give false aborts: runs a preview would have stopped
   although their final image passes.
3. **End to end**: the doomed prompts through the generator with early abort on and off:
   total denoising steps, wall time and the final decisions.
4. **Margin**: a mix of doomed and allowed candidates run with previews recorded but never
   stopping; each candidate ``EarlyAbortConfig.margin`` is replayed on the recorded previews
   (doomed runs stopped, steps saved, false aborts).

Figures are reported, not asserted; targets are printed next to them.
"""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OVERHEAD_TARGET = 0.05
STEPS_SAVED_TARGET = 0.40


def _setup(home: Path) -> tuple[Any, Any, Any]:
    from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
    from stylegate.generator.loading import load_text_to_image

    registered, unregistered = demo_artists()
    ws, _ = new_styleworld_workspace(home, artists=registered)
    pipeline = load_text_to_image(None, device="cpu")
    return ws, pipeline, (registered, unregistered)


def _allowed_candidates(registered: list[Any], unregistered: list[Any]) -> list[str]:
    from stylegate.styleworld import world

    unclaimed = [f"a {s} in {world.describe(a)}" for s in world.SUBJECTS for a in unregistered]
    attributed = [f"a {s} by {a.name}" for s in world.SUBJECTS for a in registered if a.consent != "opt-out"]
    out: list[str] = []
    for pair in zip(unclaimed, attributed):
        out.extend(pair)
    return out


def _doomed_candidates(registered: list[Any]) -> list[str]:
    from stylegate.styleworld import world

    opted_out = [a for a in registered if a.consent == "opt-out"]
    described = [f"a {s} in {world.describe(a)}" for s in world.SUBJECTS for a in opted_out]
    plain = [f"a picture of a {s}" for s in world.SUBJECTS]
    out = []
    for i, prompt in enumerate(described):
        out.append(prompt)
        if i % 3 == 2 and plain:
            out.append(plain.pop(0))
    return out + plain


def measure_overhead(gen: Any, pipeline: Any, candidates: list[str], *, steps: int, n_prompts: int, seed: int, repeats: int) -> dict[str, Any]:
    import numpy as np
    import torch

    from stylegate.governance.decision import Action

    chosen: list[tuple[str, int]] = []
    for i, prompt in enumerate(candidates):
        if len(chosen) >= n_prompts:
            break
        s = seed + i
        result = gen.generate(prompt, seed=s, steps=steps)  # also warms every code path up
        im = result.images[0] if result.images else None
        if im is not None and im.attempts == 1 and im.aborted_attempts == 0 and result.action in (Action.ALLOW, Action.ATTRIBUTE):
            chosen.append((prompt, s))

    def ungated(prompt: str, s: int) -> Any:
        out = pipeline(
            prompt=prompt, num_inference_steps=steps, guidance_scale=gen.guidance_scale,
            generator=torch.Generator("cpu").manual_seed(s), output_type="pil",
        )
        return out.images[0]

    plain_t: list[list[float]] = [[] for _ in chosen]
    gated_t: list[list[float]] = [[] for _ in chosen]
    parts = {"pre_check": 0.0, "previews": 0.0, "post_check": 0.0}
    identical, retried, n_gated = True, 0, 0
    for r in range(repeats):
        for j, (prompt, s) in enumerate(chosen):
            order = ("plain", "gated") if (r + j) % 2 == 0 else ("gated", "plain")
            for mode in order:
                start = time.perf_counter()
                if mode == "plain":
                    image = ungated(prompt, s)
                    plain_t[j].append(time.perf_counter() - start)
                    plain_image = image
                else:
                    result = gen.generate(prompt, seed=s, steps=steps)
                    gated_t[j].append(time.perf_counter() - start)
                    gated_image = result.images[0].image
                    n_gated += 1
                    retried += int(result.images[0].attempts != 1)
                    for key in parts:
                        parts[key] += result.timings.get(key, 0.0)
            if gated_image is None or not np.array_equal(np.asarray(plain_image), np.asarray(gated_image)):
                identical = False
    plain_min = [min(t) for t in plain_t]
    gated_min = [min(t) for t in gated_t]
    total_plain, total_gated = sum(plain_min), sum(gated_min)
    ratios = [g / p - 1 for g, p in zip(gated_min, plain_min)]
    return {
        "prompts": len(chosen),
        "repeats": repeats,
        "steps": steps,
        "ungated_s_per_image": round(total_plain / max(len(chosen), 1), 4),
        "gated_s_per_image": round(total_gated / max(len(chosen), 1), 4),
        "overhead": round(total_gated / total_plain - 1, 4) if chosen else None,
        "overhead_median_per_prompt": round(float(np.median(ratios)), 4) if ratios else None,
        "overhead_ms_per_image": round(1000 * (total_gated - total_plain) / max(len(chosen), 1), 2),
        "pre_check_ms": round(1000 * parts["pre_check"] / max(n_gated, 1), 2),
        "previews_ms": round(1000 * parts["previews"] / max(n_gated, 1), 2),
        "post_check_ms": round(1000 * parts["post_check"] / max(n_gated, 1), 2),
        "previews_per_image": len(gen.early_abort.preview_steps(steps)),
        "identical_images": identical,
        "retried": retried,
        "target": OVERHEAD_TARGET,
        "per_prompt": [
            {"prompt": p, "seed": s, "ungated_s": round(u, 4), "gated_s": round(g, 4)}
            for (p, s), u, g in zip(chosen, plain_min, gated_min)
        ],
    }


def measure_steps_saved(gen: Any, candidates: list[str], *, steps: int, n_prompts: int, seed: int) -> dict[str, Any]:
    from stylegate.generator.early_abort import REJECTING
    from stylegate.generator.gated import steered_prompt
    from stylegate.governance.decision import Action

    gate = gen.gate
    doomed: list[dict[str, Any]] = []
    passed = false_aborts = scanned = 0
    for i, prompt in enumerate(candidates):
        if len(doomed) >= n_prompts:
            break
        pre = gate.check_prompt(prompt)
        if pre.action is Action.BLOCK:
            continue
        used, negative = steered_prompt(prompt, pre)
        s = seed + 100 + i
        scanned += 1
        shadow = gen.run_pipeline(used, seed=s, steps=steps, negative_prompt=negative, interrupt=False)
        post = gate.check_image(shadow.image)
        would_stop = shadow.monitor.aborted_at if shadow.monitor is not None else None
        if post.action not in REJECTING:
            passed += 1
            false_aborts += int(would_stop is not None)
            continue
        real = gen.run_pipeline(used, seed=s, steps=steps, negative_prompt=negative, interrupt=True)
        doomed.append({
            "prompt": prompt,
            "seed": s,
            "steered": pre.action is Action.STEER,
            "output_action": post.action.value,
            "steps_planned": real.steps_planned,
            "steps_run": real.steps_run,
            "shadow_abort_at": would_stop,
            "full_s": round(shadow.seconds, 4),
            "aborted_s": round(real.seconds, 4),
        })
    planned = sum(d["steps_planned"] for d in doomed)
    run = sum(d["steps_run"] for d in doomed)
    caught = sum(1 for d in doomed if d["steps_run"] < d["steps_planned"])
    full_s = sum(d["full_s"] for d in doomed)
    aborted_s = sum(d["aborted_s"] for d in doomed)
    return {
        "scanned": scanned,
        "doomed": len(doomed),
        "caught": caught,
        "steps_planned": planned,
        "steps_run": run,
        "steps_saved_fraction": round(1 - run / planned, 4) if planned else None,
        "time_saved_fraction": round(1 - aborted_s / full_s, 4) if full_s else None,
        "passed_at_output": passed,
        "false_aborts": false_aborts,
        "false_abort_rate": round(false_aborts / passed, 4) if passed else None,
        "target": STEPS_SAVED_TARGET,
        "runs": doomed,
    }


def measure_margins(gen: Any, prompts: list[str], *, steps: int, seed: int, margins: tuple[float, ...] = (0.0, 0.08, 0.16, 0.24, 0.32)) -> dict[str, Any]:
    """Calibrate ``EarlyAbortConfig.margin``: previews at the configured points never stop the
    run here (shadow mode, no margin); each candidate margin is then replayed on the recorded
    previews against the post-check of the finished image."""
    from stylegate.bench.early_abort_trace import replay
    from stylegate.generator.early_abort import REJECTING, EarlyAbortConfig
    from stylegate.generator.gated import GatedGenerator, steered_prompt
    from stylegate.governance.decision import Action

    gate = gen.gate
    points = gen.early_abort.at
    tracer = GatedGenerator(gate, gen.pipeline, guidance_scale=gen.guidance_scale, early_abort=EarlyAbortConfig(at=points, margin=-2.0, confirm=len(points) + 1))
    runs: list[dict[str, Any]] = []
    for i, prompt in enumerate(prompts):
        pre = gate.check_prompt(prompt)
        if pre.action is Action.BLOCK:
            continue
        used, negative = steered_prompt(prompt, pre)
        run = tracer.run_pipeline(used, seed=seed + 500 + i, steps=steps, negative_prompt=negative, interrupt=False)
        post = gate.check_image(run.image)
        if run.monitor is None:  # the tracer always previews; a run without previews is a bug here
            raise RuntimeError("early-abort tracer ran without a preview monitor")
        margins_seen = [
            max((e["score"] - e["threshold"] for e in p.evidence if e["action"] in {a.value for a in REJECTING}), default=None)
            for p in run.monitor.previews
        ]
        runs.append({"doomed": post.action in REJECTING, "planned": run.steps_planned, "points": [p.step for p in run.monitor.previews], "margins": margins_seen})
    rows = []
    for m in margins:  # the configured points, the first preview past the margin stops the run
        got = replay(runs, points, m, 1, steps)
        rows.append({
            "margin": m,
            "caught": got["caught"],
            "doomed": got["doomed"],
            "steps_saved_fraction": got["steps_saved_fraction"] if got["doomed"] else None,
            "false_aborts": got["false_aborts"],
            "passed": got["passed"],
        })
    return {"runs": len(runs), "margin_in_use": gen.early_abort.margin, "rows": rows}


def measure_end_to_end(gen: Any, gen_off: Any, prompts: list[tuple[str, int]], *, steps: int) -> dict[str, Any]:
    rows = []
    for prompt, s in prompts:
        row: dict[str, Any] = {"prompt": prompt, "seed": s}
        for label, g in (("off", gen_off), ("on", gen)):
            start = time.perf_counter()
            result = g.generate(prompt, seed=s, steps=steps)
            row[f"{label}_s"] = round(time.perf_counter() - start, 4)
            row[f"{label}_steps"] = result.steps_run
            row[f"{label}_action"] = result.action.value
            row[f"{label}_attempts"] = sum(im.attempts for im in result.images)
        rows.append(row)
    off_steps = sum(r["off_steps"] for r in rows)
    on_steps = sum(r["on_steps"] for r in rows)
    off_s = sum(r["off_s"] for r in rows)
    on_s = sum(r["on_s"] for r in rows)
    return {
        "prompts": len(rows),
        "steps_off": off_steps,
        "steps_on": on_steps,
        "steps_saved_fraction": round(1 - on_steps / off_steps, 4) if off_steps else None,
        "seconds_off": round(off_s, 3),
        "seconds_on": round(on_s, 3),
        "time_saved_fraction": round(1 - on_s / off_s, 4) if off_s else None,
        "same_action": sum(1 for r in rows if r["off_action"] == r["on_action"]),
        "rows": rows,
    }


def run_generation_bench(
    steps: int = 25,
    n_prompts: int = 8,
    seed: int = 0,
    *,
    repeats: int = 3,
    end_to_end: bool = True,
    calibration_runs: int = 24,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure the gate's overhead and early abort's savings on StyleWorld (see the module doc)."""
    import torch

    from stylegate.generator.early_abort import EarlyAbortConfig
    from stylegate.generator.gated import GatedGenerator

    say = log or (lambda text: None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stylegate-genbench-") as tmp:
        ws, pipeline, (registered, unregistered) = _setup(Path(tmp))
        gate = ws.gate()
        config = EarlyAbortConfig()
        gen = GatedGenerator(gate, pipeline, early_abort=config)
        gen_off = GatedGenerator(gate, pipeline, early_abort=None)
        say(f"set up in {time.perf_counter() - started:.1f} s; measuring the gate's overhead")
        overhead = measure_overhead(gen, pipeline, _allowed_candidates(registered, unregistered), steps=steps, n_prompts=n_prompts, seed=seed, repeats=repeats)
        say("measuring early abort on runs the post-check would block")
        saved = measure_steps_saved(gen, _doomed_candidates(registered), steps=steps, n_prompts=n_prompts, seed=seed)
        e2e = None
        if end_to_end:
            say("running the doomed prompts end to end, early abort off and on")
            e2e = measure_end_to_end(gen, gen_off, [(r["prompt"], r["seed"]) for r in saved["runs"]], steps=steps)
        margins = None
        if calibration_runs > 0:
            say(f"replaying preview margins on {calibration_runs} runs")
            mixed = [p for pair in zip(_doomed_candidates(registered), _allowed_candidates(registered, unregistered)) for p in pair]
            margins = measure_margins(gen, mixed[:calibration_runs], steps=steps, seed=seed)
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
        },
        "pipeline": "styleworld",
        "steps": steps,
        "early_abort": {"at": list(config.at), "margin": config.margin, "confirm": config.confirm, "preview_steps": config.preview_steps(steps)},
        "overhead": overhead,
        "early_abort_savings": saved,
        "end_to_end": e2e,
        "margins": margins,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def print_generation_bench(results: dict[str, Any]) -> None:
    from stylegate.output import table

    o = results["overhead"]
    ea = results["early_abort"]
    table(
        f"gate overhead on StyleWorld, {o['steps']} steps, allowed prompts, no retries "
        f"({o['prompts']} prompts x {o['repeats']} runs, fastest of each)",
        ["measure", "value", "target"],
        [
            ["ungated (plain pipeline call)", f"{1000 * o['ungated_s_per_image']:.1f} ms/image", ""],
            ["gated (GatedGenerator, previews on)", f"{1000 * o['gated_s_per_image']:.1f} ms/image", ""],
            ["overhead (gated - ungated) / ungated", _pct(o["overhead"]), f"≤ {_pct(o['target'])}"],
            ["overhead, median per prompt", _pct(o["overhead_median_per_prompt"]), ""],
            ["  prompt check", f"{o['pre_check_ms']:.2f} ms", ""],
            [f"  previews ({o['previews_per_image']} per image, at steps {ea['preview_steps']})", f"{o['previews_ms']:.2f} ms", ""],
            ["  post-check", f"{o['post_check_ms']:.2f} ms", ""],
            ["gated images identical to ungated", "yes" if o["identical_images"] else "NO", "yes"],
        ],
    )
    s = results["early_abort_savings"]
    table(
        f"early abort on runs the post-check blocks (margin {ea['margin']}, confirm {ea['confirm']})",
        ["measure", "value", "target"],
        [
            ["runs scanned / doomed at the output", f"{s['scanned']} / {s['doomed']}", ""],
            ["doomed runs stopped early", f"{s['caught']} / {s['doomed']}", ""],
            ["denoising steps run / planned", f"{s['steps_run']} / {s['steps_planned']}", ""],
            ["steps saved", _pct(s["steps_saved_fraction"]), f"≥ {_pct(s['target'])}"],
            ["wall time saved on those runs", _pct(s["time_saved_fraction"]), ""],
            ["false aborts (final image would pass)", f"{s['false_aborts']} / {s['passed_at_output']} ({_pct(s['false_abort_rate'])})", ""],
        ],
    )
    table(
        "doomed runs",
        ["prompt", "seed", "steered", "output", "stopped after", "planned"],
        [[r["prompt"], r["seed"], "yes" if r["steered"] else "no", r["output_action"], r["steps_run"], r["steps_planned"]] for r in s["runs"]],
    )
    e = results.get("end_to_end")
    if e:
        table(
            "end to end: the doomed prompts through the generator (steer retries included), early abort off vs on",
            ["prompt", "action off", "action on", "attempts off/on", "steps off/on", "seconds off/on"],
            [
                [r["prompt"], r["off_action"], r["on_action"], f"{r['off_attempts']}/{r['on_attempts']}", f"{r['off_steps']}/{r['on_steps']}", f"{r['off_s']:.2f}/{r['on_s']:.2f}"]
                for r in e["rows"]
            ]
            + [["total", f"same action: {e['same_action']}/{e['prompts']}", "", "", f"{e['steps_off']}/{e['steps_on']} ({_pct(e['steps_saved_fraction'])} saved)", f"{e['seconds_off']:.1f}/{e['seconds_on']:.1f} ({_pct(e['time_saved_fraction'])} saved)"]],
        )
    m = results.get("margins")
    if m:
        table(
            f"preview margin, replayed on {m['runs']} runs (in use: {m['margin_in_use']})",
            ["margin", "doomed runs stopped", "steps saved on doomed runs", "false aborts (final image passes)"],
            [[f"{r['margin']:.2f}", f"{r['caught']} / {r['doomed']}", _pct(r["steps_saved_fraction"]), f"{r['false_aborts']} / {r['passed']}"] for r in m["rows"]],
        )
    print(f"done in {results['seconds']} s on {results['machine']['processor']}, {results['machine']['torch_threads']} torch thread(s)")


if __name__ == "__main__":  # pragma: no cover - `python -m stylegate.bench.generate`
    import json
    import sys

    import torch

    torch.set_num_threads(1)
    res = run_generation_bench(log=lambda t: print(t, file=sys.stderr))
    print_generation_bench(res)
    if "--json" in sys.argv:
        print(json.dumps(res))
