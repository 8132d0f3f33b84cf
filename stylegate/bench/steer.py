"""`stylegate bench steer`: steering measured like an unlearning benchmark, on StyleWorld.

A temporary home holds the demo's registered StyleWorld artists. Every registered opted-out
artist × every subject is asked for twice, named ("a boat by NAME") and described ("a boat
in <their style>"), through the gated StyleWorld pipeline. The bench policy lets an opted-out
*name* steer too (the shipped policy blocks it), so both kinds of prompt measure the steer.

- **Style removed**: share of the written images that an independent, non-neural style
  classifier (``styleworld.style_classifier``) does not attribute to the opted-out artist.
- **Subject kept**: share of the written images in which an independent subject classifier
  (``styleworld.subject_classifier``, shape features, fitted on renders) finds the requested
  subject; shown beside the same share for allowed prompts, which is the pipeline's own
  ceiling.
- **Other styles kept**: prompts for allowed artists (royalty, credit, unregistered), gated
  and ungated with the same seed: the share whose gated image the style classifier gives the
  same artist as the ungated one (and the share that is pixel-identical).
- **Cost**: attempts and denoising steps per final image, and the share that ends blocked.
- **Where the subject is lost** (the diagnosis of issue #13): the subject classifier on
  held-out renders at 32 px, as rendered and degraded the way the pipeline draws
  (``subject_classifier.degrade``); the pipeline on the plain subject ("a boat", same seed)
  and on the unsteered prompt (same seed, no gate); steered outputs by attempt; and, with no
  generation, whether the rewrite keeps the subject's word over every caption phrasing
  StyleWorld has (training and held-out templates), and still clears the re-check.

Figures are printed, not asserted; the targets of issue #13 and the UnlearnCanvas figures for
ESD (arXiv 2402.11846) are printed beside them.
"""

from __future__ import annotations

import platform
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGETS = {"style_removed": 0.98, "subject_kept": 0.90, "other_styles_kept": 0.95, "mean_attempts": 1.5,
           "blocked": 0.05}
# UnlearnCanvas, style unlearning with ESD: unlearning accuracy, in-domain and cross-domain
# retain accuracy (the paper's Table 2).
UNLEARNCANVAS_ESD = {"unlearning_accuracy": 0.986, "in_domain_retain": 0.810, "cross_domain_retain": 0.940}


def _bench_policy(home: Path, negative_prompt: str, candidates: int | None = None,
                  retry_guidance_step: float | None = None) -> None:
    """The home's policy, with an opted-out name steering instead of blocking (and, when
    given, another number of subject candidates per attempt or another guidance step per
    steered retry)."""
    policy = home / "policy.toml"
    text = policy.read_text("utf-8")
    section = text.index("[consent.opt-out]")
    head, tail = text[:section], text[section:]
    text = head + tail.replace('name = "block"', 'name = "steer"', 1)
    text = text.replace('negative_prompt = "retry"', f'negative_prompt = "{negative_prompt}"', 1)
    if candidates is not None:
        text, n = re.subn(r"(?m)^subject_candidates = \d+$", f"subject_candidates = {candidates}", text, count=1)
        if n != 1:
            raise RuntimeError("the policy has no subject_candidates line to set")
    if retry_guidance_step is not None:
        text, n = re.subn(r"(?m)^retry_guidance_step = [0-9.]+$", f"retry_guidance_step = {float(retry_guidance_step)}",
                          text, count=1)
        if n != 1:
            raise RuntimeError("the policy has no retry_guidance_step line to set")
    policy.write_text(text, "utf-8")


def run_steer_bench(*, steps: int = 25, seeds: int = 1, negative_prompt: str = "retry", subjects: int | None = None,
                    candidates: int | None = None, retry_guidance_step: float | None = None,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """``subjects``: the first N StyleWorld subjects only (a reduced run); ``candidates``:
    subject candidates per attempt, ``retry_guidance_step``: the guidance added per steered
    retry, instead of the shipped policy's."""
    from stylegate.bench.fixtures import demo_artists, new_styleworld_workspace
    from stylegate.generator.gated import GatedGenerator
    from stylegate.generator.loading import load_text_to_image
    from stylegate.governance.decision import Action
    from stylegate.settings import Settings
    from stylegate.styleworld import style_classifier, subject_classifier, world
    from stylegate.workspace import Workspace

    started, cpu_started = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        registered, unregistered = demo_artists()
        ws, _ = new_styleworld_workspace(home, artists=registered)
        _bench_policy(ws.settings.home, negative_prompt, candidates, retry_guidance_step)
        ws = Workspace(Settings(home=home / "home", device="cpu"))  # reopen with the bench policy
        log("fitting the independent style and subject classifiers on renders …")
        styles = style_classifier.fit_default(n_seeds=12, sizes=(32,))
        judge = subject_classifier.fit_default()
        names = list(world.SUBJECTS[:subjects] if subjects else world.SUBJECTS)
        subject_heldout = subject_classifier.heldout_accuracy(judge, n_seeds=6)
        subject_degraded = subject_classifier.heldout_accuracy(judge, n_seeds=6, degraded=True)
        pipeline = load_text_to_image(None, device="cpu")
        generator = GatedGenerator(ws.gate(), pipeline)

        steered_rows: list[dict[str, Any]] = []
        opted_out = [a for a in registered if a.consent == "opt-out"]
        log(f"steering {len(opted_out)} opted-out artists × {len(names)} subjects × named/described …")
        for artist in opted_out:
            for subject in names:
                for kind, prompt in (("named", f"a {subject} by {artist.name}"),
                                     ("described", f"a {subject} in {world.describe(artist)}")):
                    for s in range(seeds):
                        seed = 1000 * s + len(steered_rows)
                        result = generator.generate(prompt, seed=seed, steps=steps)
                        row = _row(result, artist.name, subject, kind, styles, judge, Action)
                        row["subject_found_first_candidate"] = _first_candidate(generator, result, subject, steps, judge)
                        for key, text in (("subject_found_plain", f"a {subject}"), ("subject_found_unsteered", prompt)):
                            ungated = generator.run_pipeline(text, seed=seed, steps=steps, previews=False).image
                            row[key] = ungated is not None and judge.predict([ungated])[0] == subject
                        steered_rows.append(row)

        allowed_rows: list[dict[str, Any]] = []
        others = [a for a in registered if a.consent != "opt-out"] + list(unregistered)
        log(f"allowed prompts: {len(others)} artists × {len(names)} subjects, gated and ungated …")
        for artist in others:
            for subject in names:
                prompt = (f"a {subject} by {artist.name}" if artist in registered
                          else f"a {subject} in {world.describe(artist)}")
                seed = 5000 + len(allowed_rows)
                gated = generator.generate(prompt, seed=seed, steps=steps)
                plain = generator.run_pipeline(prompt, seed=seed, steps=steps, previews=False).image
                if plain is None:  # without previews nothing interrupts the run
                    raise RuntimeError(f"the ungated run of {prompt!r} returned no image")
                image = next((im.image for im in gated.images if im.image is not None), None)
                allowed_rows.append({
                    "artist": artist.name, "subject": subject, "action": gated.action.value,
                    "same_style": image is not None and styles.predict([image])[0] == styles.predict([plain])[0],
                    "identical": image is not None and list(image.getdata()) == list(plain.getdata()),
                    "subject_found": judge.predict([plain])[0] == subject,
                })
        log("rewriting every StyleWorld caption phrasing of the opted-out styles (no generation) …")
        rewrites = _rewrite_phrasings(ws.gate(), opted_out, world)
        used_candidates = ws.policy.steering.subject_candidates
        used_step = ws.policy.steering.retry_guidance_step
    results = _summarise(steered_rows, allowed_rows, subject_heldout, steps, time.perf_counter() - started)
    results["subject_classifier_heldout_degraded"] = round(subject_degraded, 4)
    results["rewrites"] = rewrites
    results["negative_prompt"] = negative_prompt
    results["subject_candidates"] = used_candidates
    results["retry_guidance_step"] = used_step
    results["cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    results["guidance_scale"] = generator.guidance_scale
    results["subjects"] = names
    return results


def _first_candidate(generator: Any, result: Any, subject: str, steps: int, judge: Any) -> bool | None:
    """Whether the written image's attempt would have shown the subject with no subject check:
    its first candidate (which passed the post-check, or the attempt would have ended there),
    drawn again from the same seed and prompt. None when nothing was written."""
    kept = next((im for im in result.images if im.image is not None), None)
    if kept is None or result.action.value == "block":
        return None
    record = next(a for a in kept.attempt_log if a.seed == kept.seed and a.attempt == kept.attempts)
    if record.candidate == 0:
        return bool(judge.predict([kept.image])[0] == subject)
    first = next(a for a in kept.attempt_log if a.attempt == kept.attempts and a.candidate == 0)
    image = generator.run_pipeline(first.prompt, seed=first.seed, steps=steps, negative_prompt=first.negative_prompt,
                                   guidance_scale=first.guidance_scale, previews=False).image
    return image is not None and bool(judge.predict([image])[0] == subject)


def _rewrite_phrasings(gate: Any, artists: list[Any], world: Any, per_template: int = 1) -> dict[str, Any]:
    """Over every described and named caption template (training and held-out), for every
    opted-out artist × subject: does the first rewrite keep the subject's word, and clear?"""
    import random
    import re

    from stylegate.governance.decision import Action

    rng = random.Random(13)
    out: dict[str, Any] = {}
    for kind in ("named", "described"):
        kept = cleared = steered = 0
        for artist in artists:
            for subject in world.SUBJECTS:
                for split in ("train", "heldout"):
                    for template in world.caption_templates(kind, split):
                        options = [c for c in world.all_captions(artist, subject, kind, split)
                                   if _from_template(c, template, artist, subject)]
                        for caption in rng.sample(options, min(per_template, len(options))):
                            pre = gate.check_prompt(caption)
                            if pre.action is not Action.STEER:
                                continue
                            plan = gate.steer_plan(caption, None, pre, level=0)
                            steered += 1
                            kept += subject in re.findall(r"[\w'-]+", plan["prompt"].lower())
                            cleared += bool(plan["cleared"])
        out[kind] = {"prompts": steered, "subject_word_kept": round(kept / steered, 4) if steered else None,
                     "cleared": round(cleared / steered, 4) if steered else None}
    return out


def _from_template(caption: str, template: str, artist: Any, subject: str) -> bool:
    """Whether ``caption`` is ``template`` filled in (its fixed words, in order)."""
    import re

    pattern = re.escape(template)
    for key in ("subject", "name", "ink", "pattern", "paper", "composition"):
        pattern = pattern.replace(re.escape("{" + key + "}"), "(.+)")
    return re.fullmatch(pattern, caption) is not None


def _row(result: Any, artist: str, subject: str, kind: str, styles: Any, subjects: Any, Action: Any) -> dict:
    image = next((im.image for im in result.images if im.image is not None), None)
    written = image is not None and result.action is not Action.BLOCK
    return {
        "artist": artist, "subject": subject, "kind": kind, "action": result.action.value,
        "prompt_action": result.prompt_decision.action.value,
        "used_prompt": result.used_prompt,
        "attempts": sum(im.attempts for im in result.images),
        "samples": sum(im.samples for im in result.images),
        "steps": result.steps_run,
        "written": written,
        "style": styles.predict([image])[0] if written else None,
        "subject_found": subjects.predict([image])[0] == subject if written else None,
        "final_attempt": result.images[0].attempts if result.images else None,
        "guidance_by_attempt": [a.guidance_scale for im in result.images for a in im.attempt_log],
    }


def _share(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _summarise(steered: list[dict], allowed: list[dict], subject_heldout: float, steps: int, seconds: float) -> dict:
    written = [r for r in steered if r["written"]]
    by_kind = {}
    for kind in ("named", "described"):
        rows = [r for r in steered if r["kind"] == kind]
        kept = [r for r in rows if r["written"]]
        by_kind[kind] = {
            "prompts": len(rows),
            "steered_at_precheck": sum(r["prompt_action"] == "steer" for r in rows),
            "blocked": _share([not r["written"] for r in rows]),
            "style_removed": _share([r["style"] != r["artist"] for r in kept]),
            "subject_kept": _share([bool(r["subject_found"]) for r in kept]),
            "mean_attempts": round(sum(r["attempts"] for r in kept) / len(kept), 3) if kept else None,
        }
    allowed_written = [r for r in allowed if r["action"] != "block"]
    results = {
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
        "steps": steps,
        "seconds": round(seconds, 1),
        "steered": {
            "prompts": len(steered),
            "blocked": _share([not r["written"] for r in steered]),
            "style_removed": _share([r["style"] != r["artist"] for r in written]),
            "subject_kept": _share([bool(r["subject_found"]) for r in written]),
            "mean_attempts": round(sum(r["attempts"] for r in written) / len(written), 3) if written else None,
            "mean_steps": round(sum(r["steps"] for r in written) / len(written), 1) if written else None,
            "mean_samples": round(sum(r["samples"] for r in written) / len(written), 3) if written else None,
            "subject_kept_first_candidate": _share([bool(r["subject_found_first_candidate"]) for r in written
                                                    if r.get("subject_found_first_candidate") is not None]),
            "by_kind": by_kind,
            "subject_found_plain": _share([r["subject_found_plain"] for r in steered if "subject_found_plain" in r]),
            "subject_found_unsteered": _share([r["subject_found_unsteered"] for r in steered if "subject_found_unsteered" in r]),
            "subject_kept_by_attempt": {
                str(n): {"images": len(rows), "subject_kept": _share([bool(r["subject_found"]) for r in rows])}
                for n in (1, 2, 3) if (rows := [r for r in written if r.get("final_attempt") == n])},
        },
        "allowed": {
            "prompts": len(allowed),
            "other_styles_kept": _share([r["same_style"] for r in allowed_written]),
            "identical_to_ungated": _share([r["identical"] for r in allowed_written]),
            "subject_found_ungated": _share([r["subject_found"] for r in allowed]),
        },
        "subject_classifier_heldout_accuracy": round(subject_heldout, 4),
        "targets": TARGETS,
        "unlearncanvas_esd": UNLEARNCANVAS_ESD,
        "examples": [{k: r[k] for k in ("kind", "artist", "subject", "used_prompt", "action", "style")}
                     for r in steered[:: max(1, len(steered) // 8)]],
    }
    return results


def print_steer_bench(results: dict) -> None:
    from stylegate.output import table

    s, a = results["steered"], results["allowed"]

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    t = results["targets"]
    table(f"steering, StyleWorld ({s['prompts']} steered prompts, {results['steps']} steps, {results['seconds']} s, "
          f"{results.get('cpu_seconds')} s CPU; guidance {results.get('guidance_scale')}, "
          f"+{results.get('retry_guidance_step')} per retry)",
          ["measure", "stylegate", "target", "UnlearnCanvas ESD"], [
              ["style removed (independent style classifier)", pct(s["style_removed"]), f"≥ {pct(t['style_removed'])}",
               pct(results["unlearncanvas_esd"]["unlearning_accuracy"]) + " (unlearning acc.)"],
              ["subject kept (independent subject classifier)", pct(s["subject_kept"]), f"≥ {pct(t['subject_kept'])}", "-"],
              ["  the same without the subject check (each attempt's first candidate)",
               pct(s.get("subject_kept_first_candidate")), "", ""],
              ["  the same on allowed prompts (the pipeline's ceiling)", pct(a["subject_found_ungated"]), "", ""],
              ["other styles kept (gated = ungated style)", pct(a["other_styles_kept"]), f"≥ {pct(t['other_styles_kept'])}",
               pct(results["unlearncanvas_esd"]["in_domain_retain"]) + " (in-domain retain)"],
              ["  allowed outputs pixel-identical to ungated", pct(a["identical_to_ungated"]), "", ""],
              ["mean attempts per written image", f"{s['mean_attempts']}", f"≤ {t['mean_attempts']}", "-"],
              [f"  pipeline runs per written image (≤ {results.get('subject_candidates')} subject candidates an attempt)",
               f"{s.get('mean_samples')}", "", ""],
              ["  denoising steps per written image", f"{s.get('mean_steps')}", "", ""],
              ["steered prompts that end blocked", pct(s["blocked"]), f"≤ {pct(t['blocked'])}", "-"],
          ])
    r = results.get("rewrites", {})
    table("where the subject is lost", ["measure", "value"], [
        ["subject classifier, held-out renders at 32 px", pct(results["subject_classifier_heldout_accuracy"])],
        ["  the same, degraded like the pipeline's output", pct(results.get("subject_classifier_heldout_degraded"))],
        ["pipeline, plain subject (\"a boat\", same seeds, no gate)", pct(s.get("subject_found_plain"))],
        ["pipeline, the unsteered prompt (style kept, no gate)", pct(s.get("subject_found_unsteered"))],
        ["steered outputs (subject kept)", pct(s["subject_kept"])],
        *[[f"  ending at attempt {n} ({v['images']} images)", pct(v["subject_kept"])]
          for n, v in s.get("subject_kept_by_attempt", {}).items()],
        *[[f"rewrite keeps the subject's word, every {k} phrasing ({v['prompts']} prompts)", pct(v["subject_word_kept"])]
          for k, v in r.items()],
        *[[f"  and clears the re-check ({k})", pct(v["cleared"])] for k, v in r.items()],
    ])
    table("by kind of prompt", ["kind", "prompts", "steered at pre-check", "blocked", "style removed", "subject kept",
                                "mean attempts"],
          [[k, v["prompts"], v["steered_at_precheck"], pct(v["blocked"]), pct(v["style_removed"]), pct(v["subject_kept"]),
            v["mean_attempts"]] for k, v in s["by_kind"].items()])
    table("examples", ["kind", "artist", "subject", "generated from", "decision", "style seen"],
          [[e["kind"], e["artist"], e["subject"], e["used_prompt"], e["action"], e["style"] or "-"]
           for e in results["examples"]])
