"""`stylegate bench attribution`: royalty attribution against StyleWorld's ground truth.

A temporary home holds the demo's registered StyleWorld artists (one artist per consent
state left unregistered, see :func:`stylegate.bench.fixtures.demo_artists`), under the
shipped policy. Every prompt goes through :class:`GatedGenerator` on the bundled StyleWorld
pipeline (pre-check, denoising with previews, post-check, attribution), with several seeds:

- **styled**: each registered royalty and credit artist × subject, named ("a boat by NAME")
  and described ("a boat in <their style>", ``world.describe``): the share credited to that
  artist (median, p10) and the fraction of generations that credit them first;
- **no style**: the unregistered artists' described styles and plain subjects ("a picture
  of a boat"): the fraction of generations that credit anyone;
- **stability**: per prompt across seeds, the spread of the right artist's share and how
  often the first-credited artist changes.

The evidence behind each credit (prompt or image, name, description or style) is counted
so that a missed target can be traced. The generations run under the workspace policy's
``attribution.basis``; the shares under the other basis are replayed from the same recorded
evidence (the gate's actions do not depend on the basis), so one run measures both, and the
image-only ``unprompted_style`` candidates recorded but not paid are counted. Figures are printed, not asserted; the targets of
issue #19 are printed beside them.
"""

from __future__ import annotations

import logging
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stylegate.bench.attribution_scoring import Case, generation_row, other_basis, summarise

logger = logging.getLogger(__name__)

ATTRIBUTED = ("royalty", "credit")


def build_cases(registered: list[Any], unregistered: list[Any], subjects: int) -> list[Case]:
    """The bench's prompts: styled (named and described) then no-style."""
    from stylegate.styleworld import world

    chosen = world.SUBJECTS[:subjects]
    cases: list[Case] = []
    for artist in (a for a in registered if a.consent in ATTRIBUTED):
        for subject in chosen:
            cases.append(Case(f"a {subject} by {artist.name}", "named", subject, artist.name, artist.name))
            cases.append(Case(f"a {subject} in {world.describe(artist)}", "described", subject, artist.name, artist.name))
    for subject in chosen:
        for artist in unregistered:
            cases.append(Case(f"a {subject} in {world.describe(artist)}", "unregistered", subject, None, artist.name))
        cases.append(Case(f"a picture of a {subject}", "plain", subject, None, None))
    return cases


def run_attribution_bench(*, steps: int = 25, seeds: int = 3, subjects: int = 8,
                          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every case with ``seeds`` seeds through the gated generator; see the module doc."""
    import torch

    from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
    from stylegate.generator.gated import GatedGenerator
    from stylegate.generator.loading import load_text_to_image
    from stylegate.styleworld import style_classifier

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stylegate-attrbench-") as tmp:
        registered, unregistered = demo_artists()
        log(f"registering {len(registered)} StyleWorld artists in a temporary home …")
        ws, _ = new_styleworld_workspace(Path(tmp), artists=registered)
        generator = GatedGenerator(ws.gate(), load_text_to_image(None, device="cpu"))
        floor = ws.gate().policy.attribution.floor
        basis = ws.gate().policy.attribution.basis
        log("fitting the independent style classifier on renders …")
        styles = style_classifier.fit_default(n_seeds=12, sizes=(32,))
        attributed = frozenset(a.name for a in registered if a.consent in ATTRIBUTED)
        cases = build_cases(registered, unregistered, subjects)
        total = len(cases) * seeds
        log(f"{len(cases)} prompts × {seeds} seeds = {total} generations at {steps} steps")
        rows: list[dict[str, Any]] = []
        tick = time.perf_counter()
        for i, case in enumerate(cases):
            for k in range(seeds):
                seed = 7919 * k + 13 * i
                result = generator.generate(case.prompt, seed=seed, steps=steps)
                image = next((im.image for im in result.images if im.image is not None), None)
                seen = styles.predict([image])[0] if image is not None else None
                rows.append(generation_row(case, seed, result, seen, floor=floor, basis=basis))
                logger.debug("%r seed %d: %s", case.prompt, seed, rows[-1]["credited"])
            if time.perf_counter() - tick > 15 or i == len(cases) - 1:
                tick = time.perf_counter()
                log(f"  {len(rows)}/{total} generations, {time.perf_counter() - started:.0f} s")
    results = summarise(rows, attributed)
    results.update({
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                    "torch_threads": torch.get_num_threads()},
        "pipeline": "styleworld",
        "steps": steps,
        "seeds": seeds,
        "subjects": subjects,
        "attribution_floor": floor,
        "attribution_basis": basis,
        "alternative_basis": other_basis(basis),
        "seconds": round(time.perf_counter() - started, 1),
        "misses": [_brief(r) for r in rows if r["expected"] is not None and r["first"] != r["expected"]][:20],
        "no_style_credits": [_brief(r) for r in rows if r["expected"] is None and r["credited"]][:20],
    })
    return results


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("kind", "prompt", "seed", "expected", "action", "credited", "sources", "image_style")}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "NOT met")


def print_attribution_bench(results: dict[str, Any]) -> None:
    from stylegate.output import table

    s, ns, t, ok = results["styled"], results["no_style"], results["targets"], results["met"]
    u = results["unprompted"]
    table(f"attribution on StyleWorld ({s['generations']} styled + {ns['generations']} no-style generations, "
          f"{results['seeds']} seeds, {results['steps']} steps, {results['seconds']} s; "
          f"attribution.basis = {results['attribution_basis']})",
          ["measure", "value", "target", ""], [
              ["share to the right artist, median", _num(s["median_share"]), f"≥ {t['median_share']}", _verdict(ok["median_share"])],
              ["share to the right artist, p10", _num(s["p10_share"]), "", ""],
              ["right artist credited first", _pct(s["right_first"]), f"≥ {_pct(t['right_first'])}", _verdict(ok["right_first"])],
              ["styled generations crediting nobody", _pct(s["credited_nobody"]), "", ""],
              ["styled generations crediting someone else too", _pct(s["other_artists_credited"]), "", ""],
              ["no-style generations crediting anyone", _pct(ns["credited_anyone"]), f"≤ {_pct(t['no_style_credited'])}",
               _verdict(ok["no_style_credited"])],
              ["right share spread across seeds, median / max", f"{_num(s['share_spread_median'])} / {_num(s['share_spread_max'])}", "", ""],
              ["prompts whose first-credited artist changes with the seed", _pct(s["first_changes"]), "", ""],
              ["no-style prompts whose credit/no credit changes with the seed", _pct(ns["prompts_credit_changes"]), "", ""],
              ["no-style generations with an unprompted_style candidate (recorded, not paid)",
               _pct(u["no_style_with_candidate"]), "", ""],
              ["  of those, the candidate is the image's real style (classifier)", _pct(u["no_style_candidate_is_image_style"]),
               "", ""],
              ["styled generations with an unprompted_style candidate (recorded, not paid)", _pct(u["styled_with_candidate"]),
               "", ""],
          ])
    alt = results["alternative"]
    rows = []
    for name, st, nst, mt in ((results["attribution_basis"], s, ns, ok),
                              (f"{results['alternative_basis']} (replayed)", alt["styled"], alt["no_style"], alt["met"])):
        rows.append([name, f"{_num(st['median_share'])} {_verdict(mt['median_share'])}",
                     f"{_pct(st['right_first'])} {_verdict(mt['right_first'])}",
                     _pct(st["other_artists_credited"]),
                     f"{_pct(nst['credited_anyone'])} {_verdict(mt['no_style_credited'])}"])
    table("the same generations under each attribution basis (the gate's actions do not depend on it; "
          "the other basis is replayed from the recorded evidence)",
          ["attribution.basis", "median share to the right artist", "right artist first",
           "styled crediting another artist too", "no-style crediting anyone"], rows)
    table("the images' real style (independent StyleWorld style classifier), to tell attribution errors from drift",
          ["measure", "value"], [
              ["styled images really in the prompted artist's style", _pct(s["image_in_prompted_style"])],
              ["no-style images that came out in a registered royalty/credit style", _pct(ns["image_in_attributed_style"])],
              ["  of those, credited to someone", _pct(ns["credited_when_image_in_attributed_style"])],
              ["no-style images in any other style, credited to someone", _pct(ns["credited_when_image_in_other_style"])],
              ["no-style credits naming the artist whose style the image has", _pct(ns["credit_matches_image_style"])],
          ])
    kinds = results["by_kind"]
    table("styled prompts by kind", ["kind", "generations", "median share", "p10 share", "right first", "nobody credited",
                                     "first changes across seeds", "blocked"],
          [[k, v["generations"], _num(v["median_share"]), _num(v["p10_share"]), _pct(v["right_first"]),
            _pct(v["credited_nobody"]), _pct(v["first_changes"]), _pct(v["blocked"])] for k, v in kinds.items()])
    table("no-style prompts by kind", ["kind", "generations", "credited anyone", "mean share credited", "who"],
          [[k, v["generations"], _pct(v["credited_anyone"]), _num(v["mean_share_credited"]),
            ", ".join(f"{n} ×{c}" for n, c in v["credited_artists"].items()) or "-"]
           for k, v in results["no_style_by_kind"].items()])
    table("per artist", ["artist", "median share", "p10", "right first", "named median / first", "described median / first",
                         "spread max", "first changes"],
          [[a["artist"], _num(a["median_share"]), _num(a["p10_share"]), _pct(a["right_first"]),
            f"{_num(a['named_median_share'])} / {_pct(a['named_right_first'])}",
            f"{_num(a['described_median_share'])} / {_pct(a['described_right_first'])}",
            _num(a["share_spread_max"]), _pct(a["first_changes"])] for a in results["per_artist"]])
    ev = results["evidence"]
    table(f"evidence behind the credits (attribution floor {results['attribution_floor']})",
          ["source (stage:kind)", "right artist", "other artists (styled prompts)", "no-style prompts"],
          [[k, ev["right_artist"].get(k, 0), ev["other_artists"].get(k, 0), ev["no_style"].get(k, 0)]
           for k in sorted(set(ev["right_artist"]) | set(ev["other_artists"]) | set(ev["no_style"]))])
    m = results["image_style_margins"]
    labels = {"styled_right": "styled prompts, the right artist", "styled_other": "styled prompts, another artist",
              "no_style_drift": "no-style prompts, the artist whose style the image has",
              "no_style_wrong": "no-style prompts, an artist whose style the image does not have"}
    table("image style evidence behind credits under basis observed (score / threshold; could a floor separate right "
          "from wrong?)",
          ["credit", "n", "min", "median", "max"],
          [[labels[k], v["n"], _num(v["min"]), _num(v["p50"]), _num(v["max"])] for k, v in m.items()])
    if results["misses"]:
        table("styled generations not crediting the right artist first (up to 20)",
              ["kind", "prompt", "seed", "action", "image style", "credited", "because of"],
              [[m["kind"], m["prompt"], m["seed"], m["action"], m["image_style"] or "-",
                ", ".join(f"{n} {s:.2f}" for n, s in m["credited"]) or "-",
                "; ".join(f"{n}: {'+'.join(k)}" for n, k in m["sources"].items()) or "-"] for m in results["misses"]])
    if results["no_style_credits"]:
        table("no-style generations crediting someone (up to 20)",
              ["kind", "prompt", "seed", "image style", "credited", "because of"],
              [[m["kind"], m["prompt"], m["seed"], m["image_style"] or "-", ", ".join(f"{n} {s:.2f}" for n, s in m["credited"]),
                "; ".join(f"{n}: {'+'.join(k)}" for n, k in m["sources"].items())] for m in results["no_style_credits"]])
