"""`stylegate bench calibration`: do the gate's thresholds hold on this embedder and this world?

For each embedder (default: both shipped StyleWorld CLIPs) and each split:

- ``standard``: the 12 StyleWorld artists registered;
- ``sibling``: the 12 plus the 10 sibling artists (:data:`~stylegate.styleworld.world.SIBLINGS`),
  each one attribute away from an original, which neither CLIP was trained on;

a fresh workspace registers every artist with WORKS renders at held-out seeds no embedder
trained on (after the evaluation seeds, so works and test renders are disjoint; registering
training renders made the fit's leave-one-out scores tighter than real works give, and its FAR
an underestimate), and the gate checks held-out data twice: first with the shipped policy (fitted for ``styleworld-clip``; on another
embedder the gate refuses it, which is the row's result), then with the thresholds
``stylegate calibrate`` fits on that workspace. Held-out data:

- style: renders of every registered artist and subject at held-out seeds; FRR = its artist
  not flagged, FAR = another artist flagged; the worst artist's FRR;
- description: held-out described captions of every artist (FRR; also over the captions no
  other registered artist shares word for word: captions name no texture, so a texture sibling's
  are its parent's); the shipped ordinary-prompt
  corpus (what calibration fits on) and prompts of words outside the training vocabulary plus
  held-out plain captions (neither seen by calibration) for the false-positive rates;
- near-duplicate: each registered work transformed once (resize, JPEG, crop, colour shift in
  turn; another seed than calibration's), and the style renders above as fresh same-subject
  renders (``stylegate bench neardup`` measures these rates with 5,000+ fresh renders).

``--scale`` also times ``calibrate`` on a synthetic workspace (random combinations of the
renderer's attributes).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SPLITS = ("standard", "sibling")
TRANSFORMS = ("resize", "jpeg", "crop", "colour")
TARGETS = {"style_frr": 0.02, "style_far": 0.01, "style_worst": 0.05, "description_catch": 0.95,
           "description_fp": 0.01, "copies_caught": 0.99, "fresh_flagged": 0.001}
Say = Callable[[str], None]


def split_artists(split: str) -> list[Any]:
    """The StyleWorld artists a split registers."""
    from stylegate.styleworld import world

    if split == "standard":
        return list(world.ARTISTS)
    if split == "sibling":
        return list(world.ARTISTS) + list(world.SIBLINGS)
    raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")


def unseen_prompts(n: int = 600, seed: int = 1) -> list[str]:
    """Ordinary prompts of 1-2 phrases of English words outside the CLIPs' training vocabulary."""
    from stylegate.bench.redteam import corpus_words
    from stylegate.styleworld.distractors import DistractorSampler, vocabulary

    words = vocabulary(16_000, held_out=corpus_words())[12_000:]
    sampler = DistractorSampler(words, [], np.random.default_rng(seed))
    return [", ".join(sampler.phrase() for _ in range(int(sampler.rng.integers(1, 3)))) for _ in range(n)]


@dataclass
class HeldOut:
    """What the gate is checked on; the same for both policies of one workspace."""

    renders: list[Any]
    render_owner: list[str]
    described: list[str]
    described_owner: list[str]
    corpus: list[str]
    unseen: list[str]
    copies: list[Any] = field(default_factory=list)
    copy_how: list[str] = field(default_factory=list)
    # a described caption that is word for word also a caption of another registered artist (a
    # sibling one texture away: captions name no texture); no text score can tell whose it is
    described_shared: list[bool] = field(default_factory=list)


def held_out(artists: Sequence[Any], seeds: int) -> HeldOut:
    from stylegate.governance.screening.ordinary import ordinary_prompts
    from stylegate.styleworld import world

    renders, owner, described, d_owner = [], [], [], []
    for artist in artists:
        for subject in world.SUBJECTS:
            for seed in world.heldout_seeds(seeds):
                renders.append(world.render(artist, subject, seed))
                owner.append(artist.name)
            for text in world.all_captions(artist, subject, "described", split="heldout")[::7][:4]:
                described.append(text)
                d_owner.append(artist.name)
    plain = sorted({t for a in artists for s in world.SUBJECTS for t in world.all_captions(a, s, "plain", "heldout")})
    corpus = [t for _, t in ordinary_prompts()]
    every = {a.name: {t for s in world.SUBJECTS for t in world.all_captions(a, s, "described", "heldout")} for a in artists}
    shared = [any(text in texts for name, texts in every.items() if name != own) for text, own in zip(described, d_owner)]
    return HeldOut(renders, owner, described, d_owner, corpus, sorted(set(unseen_prompts())) + plain,
                   described_shared=shared)


def add_copies(data: HeldOut, work_files: dict[int, Path], seed: int = 12345, every: bool = True) -> None:
    """Transformed copies of every registered work (another seed than calibration's): each
    transform of each work, or (``every=False``) one transform per work, in turn."""
    from PIL import Image

    from stylegate.governance.matching.calibration import _transform

    rng = np.random.default_rng(seed)
    for i, (_, path) in enumerate(sorted(work_files.items())):
        with Image.open(path) as im:
            original = im.convert("RGB")
        for how in TRANSFORMS if every else (TRANSFORMS[i % len(TRANSFORMS)],):
            data.copies.append(_transform(original, how, rng))
            data.copy_how.append(how)


def _flags(decision: Any, kind: str) -> set[str]:
    return {e.artist.name for e in decision.evidence if e.kind.value == kind}


def evaluate(gate: Any, embedder: Any, data: HeldOut, vectors: dict[str, np.ndarray],
             copies_cache: dict[float, np.ndarray] | None = None) -> dict[str, Any]:
    """The gate's error rates on the held-out data (vectors embedded once per workspace).

    ``copies_cache`` keeps the copies' near-duplicate flags per near-duplicate threshold: the
    check reads nothing else of the policy, so a second policy with the same threshold reuses them.
    """
    from stylegate.governance.matching.neardup import pixel_signature

    out: dict[str, Any] = {}
    owners = np.array(data.render_owner)
    miss, wrong, fresh_flagged = [], [], []
    for vector, image, own in zip(vectors["renders"], data.renders, data.render_owner):
        d = gate.check_image_vector(vector, pixel_signature(image))
        style = _flags(d, "style")
        miss.append(own not in style)
        wrong.append(bool(style - {own}))
        fresh_flagged.append(bool(_flags(d, "near-duplicate")))
    miss_a, wrong_a = np.array(miss), np.array(wrong)
    per = {name: float(miss_a[owners == name].mean()) for name in dict.fromkeys(data.render_owner)}
    worst = max(per, key=lambda k: per[k])
    out["style"] = {"frr": float(miss_a.mean()), "far": float(wrong_a.mean()), "worst_artist": worst,
                    "worst_frr": per[worst], "renders": len(miss)}
    gate.text_vectors(data.described + data.corpus + data.unseen)  # one batch; check_prompt reuses them
    hit = np.array([o in _flags(gate.check_prompt(t), "description") for t, o in zip(data.described, data.described_owner)])
    fp_corpus = np.array([bool(_flags(gate.check_prompt(t), "description")) for t in data.corpus])
    fp_unseen = np.array([bool(_flags(gate.check_prompt(t), "description")) for t in data.unseen])
    own_words = ~np.array(data.described_shared, dtype=bool) if data.described_shared else np.ones(hit.size, bool)
    out["description"] = {"catch": float(hit.mean()), "captions": int(hit.size),
                          "catch_unshared": float(hit[own_words].mean()) if own_words.any() else float("nan"),
                          "shared_captions": int((~own_words).sum()), "fp_corpus": float(fp_corpus.mean()),
                          "corpus": int(fp_corpus.size), "fp_unseen": float(fp_unseen.mean()), "unseen": int(fp_unseen.size)}
    nd_threshold = float(gate.policy.thresholds.near_duplicate)
    if copies_cache is not None and nd_threshold in copies_cache:
        caught = copies_cache[nd_threshold]
    else:
        caught = np.array([bool(_flags(gate.check_image_vector(v, pixel_signature(im)), "near-duplicate"))
                           for v, im in zip(vectors["copies"], data.copies)])
        if copies_cache is not None:
            copies_cache[nd_threshold] = caught
    hows = np.array(data.copy_how)
    out["near_duplicate"] = {
        "copies_caught": float(caught.mean()), "copies": int(caught.size),
        "by_transform": {h: float(caught[hows == h].mean()) for h in TRANSFORMS},
        "fresh_flagged": float(np.mean(fresh_flagged)), "fresh": len(fresh_flagged)}
    th = gate.policy.thresholds
    out["thresholds"] = {"description": th.description, "description_score": th.description_score,
                         "style": th.style, "style_score": th.style_score,
                         "near_duplicate": th.near_duplicate,
                         "per_artist": len(gate.policy.calibration.per_artist)}
    out["met"] = met(out)
    return out


def met(r: dict[str, Any]) -> dict[str, bool]:
    """Each target of issue 12, met or not, for one evaluated row."""
    s, d, n = r["style"], r["description"], r["near_duplicate"]
    return {"style": s["frr"] <= TARGETS["style_frr"] and s["far"] <= TARGETS["style_far"]
            and s["worst_frr"] <= TARGETS["style_worst"],
            "description": d["catch"] >= TARGETS["description_catch"] and d["fp_corpus"] <= TARGETS["description_fp"]
            and d["fp_unseen"] <= TARGETS["description_fp"],
            "near_duplicate": n["copies_caught"] >= TARGETS["copies_caught"] and n["fresh_flagged"] <= TARGETS["fresh_flagged"]}


def _workspace(root: Path, embedder: str) -> Any:
    from stylegate.operations.ingest import init_home
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    ws = Workspace(Settings(home=root / "home", device="cpu", clip_model=embedder))
    ws.configure_threads()
    init_home(ws)
    return ws


def run_one(embedder: str, split: str, works: int, seeds: int, far: float | None, say: Say) -> list[dict[str, Any]]:
    """Both rows (shipped, calibrated) of one embedder x split."""
    from stylegate.bench.fixtures import register_styleworld, unseen_work_seeds
    from stylegate.cli.calibrate import run_calibration
    from stylegate.errors import ThresholdsForeign
    from stylegate.governance.gate import PolicyGate
    from stylegate.governance.matching.calibration import calibrated_policy_text, write_policy
    from stylegate.governance.policy import default_policy_text, load_policy

    artists = split_artists(split)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sg-bench-cal-") as tmp:
        t0 = time.perf_counter()
        ws = _workspace(Path(tmp), embedder)
        # registered works at held-out seeds after the evaluation ones: never trained on, and
        # disjoint from every evaluation render (held_out renders heldout_seeds(seeds))
        register_styleworld(ws, Path(tmp) / "reference", per_artist=works, artists=artists,
                            seeds=unseen_work_seeds(works, skip=seeds))
        view = ws.registry_view()  # no gate yet: the home policy may be foreign to this embedder
        data = held_out(artists, seeds)
        add_copies(data, view.work_files, every=False)
        copies_cache: dict[float, np.ndarray] = {}
        vectors = {"renders": ws.embedder.embed_images(data.renders), "copies": ws.embedder.embed_images(data.copies)}
        say(f"{embedder} / {split}: {len(artists)} artists x {works} works registered, "
            f"{len(data.renders)} held-out renders, {len(data.copies)} copies ({time.perf_counter() - t0:.0f} s)")
        common = {"embedder": embedder, "split": split, "artists": len(artists), "works": works,
                  "identity": ws.embedder.identity.to_dict()}
        try:
            shipped = PolicyGate(load_policy(), ws.embedder, view)
        except ThresholdsForeign as exc:
            rows.append({**common, "policy": "shipped", "status": "refused", "error": str(exc),
                         "exit_code": exc.exit_code})
            say(f"  shipped thresholds: refused (exit {exc.exit_code}): {str(exc)[:160]}…")
        else:
            rows.append({**common, "policy": "shipped", "status": "ok", **evaluate(shipped, ws.embedder, data, vectors, copies_cache)})
            say(f"  shipped thresholds evaluated: {_brief(rows[-1])}")
        t1 = time.perf_counter()
        result = run_calibration(ws, far, fit=True)
        seconds = time.perf_counter() - t1
        fitted_path = Path(tmp) / "fitted.toml"
        write_policy(fitted_path, calibrated_policy_text(default_policy_text(), result, load_policy(), "bench"))
        fitted = PolicyGate(load_policy(fitted_path), ws.embedder, view)  # must be accepted: fitted for it
        rows.append({**common, "policy": "calibrated", "status": "ok", "calibrate_seconds": round(seconds, 1),
                     **evaluate(fitted, ws.embedder, data, vectors, copies_cache)})
        say(f"  calibrated in {seconds:.0f} s: {_brief(rows[-1])}")
    return rows


def _brief(r: dict[str, Any]) -> str:
    s, d, n = r["style"], r["description"], r["near_duplicate"]
    return (f"style FRR {s['frr']:.2%} FAR {s['far']:.2%} (worst {s['worst_artist']} {s['worst_frr']:.1%}); "
            f"description {d['catch']:.1%} caught ({d['catch_unshared']:.1%} of the {d['captions'] - d['shared_captions']} "
            f"no other artist shares), FP {d['fp_corpus']:.2%} corpus / {d['fp_unseen']:.2%} unseen; "
            f"copies {n['copies_caught']:.2%}, fresh {n['fresh_flagged']:.3%}")


def _rgb(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in rng.integers(0, 256, 3))
    return r, g, b


def synthetic_artists(n: int, seed: int = 5) -> list[Any]:
    """``n`` artists with random palettes and random patterns, textures and compositions."""
    from stylegate.styleworld import world

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        pattern, texture = str(rng.choice(world.PATTERNS)), str(rng.choice(world.TEXTURES))
        comp = str(rng.choice(world.COMPOSITIONS))
        paper, ink, accent = (_rgb(rng) for _ in range(3))
        out.append(replace(world.ARTISTS[i % len(world.ARTISTS)], name=f"Synthetic Artist {i:03d}", paper=paper, ink=ink,
                           accent=accent, pattern=pattern, texture=texture, composition=comp, rng_key=1000 + i,
                           descriptors=(f"{pattern} pattern", f"{texture} texture", f"{comp} composition")))
    return out


def run_scale(n_artists: int, per_artist: int, say: Say) -> dict[str, Any]:
    """Time ``calibrate`` on ``n_artists`` synthetic artists x ``per_artist`` works (shipped CLIP)."""
    from stylegate.cli.calibrate import run_calibration
    from stylegate.operations.ingest import add_works
    from stylegate.registry.models import Consent
    from stylegate.styleworld import world

    with tempfile.TemporaryDirectory(prefix="sg-bench-cal-scale-") as tmp:
        ws = _workspace(Path(tmp), "styleworld-clip")
        t0 = time.perf_counter()
        for i, a in enumerate(synthetic_artists(n_artists)):
            ws.store.add_artist(a.name, consent=Consent.OPT_OUT, descriptors=a.descriptors)
            folder = Path(tmp) / "ref" / f"{i:03d}"
            folder.mkdir(parents=True)
            for k in range(per_artist):
                world.render(a, world.SUBJECTS[k % len(world.SUBJECTS)], k).save(folder / f"{k}.png")
            add_works(ws, a.name, [folder])
        built = time.perf_counter() - t0
        say(f"scale: {n_artists} artists x {per_artist} works built in {built:.0f} s; calibrating")
        t0 = time.perf_counter()
        result = run_calibration(ws, None, fit=True)
        seconds = time.perf_counter() - t0
    return {"artists": n_artists, "works": n_artists * per_artist, "build_seconds": round(built, 1),
            "calibrate_seconds": round(seconds, 1), "target_seconds": 300, "met": seconds <= 300,
            "kinds": {k: {"threshold": f.threshold, "far": f.far_overall, "frr": f.frr_overall}
                      for k, f in result.fits.items()}}


def run_calibration_bench(embedders: Sequence[str], splits: Sequence[str], works: int = 12, seeds: int = 2,
                          far: float | None = None, scale: tuple[int, int] | None = None,
                          say: Say = log.info) -> dict[str, Any]:
    """Every embedder x split, shipped then calibrated thresholds; optionally the scale timing."""
    rows: list[dict[str, Any]] = []
    for embedder in embedders:
        for split in splits:
            rows.extend(run_one(embedder, split, works, seeds, far, say))
    out: dict[str, Any] = {"targets": TARGETS, "works_per_artist": works, "heldout_seeds": seeds, "rows": rows}
    if scale is not None:
        out["scale"] = run_scale(scale[0], scale[1], say)
    return out


def _p(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}%"


def _thresholds(t: dict[str, Any]) -> str:
    extra = f" +{t['per_artist']} per-artist" if t["per_artist"] else ""
    score = f" ({t['style_score']})" if t.get("style_score") else ""
    d_score = f" ({t['description_score']})" if t.get("description_score") else ""
    return f"d {t['description']:.4g}{d_score} s {t['style']:.4g}{score} nd {t['near_duplicate']:.4g}{extra}"


def print_calibration_bench(results: dict[str, Any]) -> None:
    from stylegate.output import message, table

    rows = []
    for r in results["rows"]:
        head = [r["embedder"], r["split"], r["policy"]]
        if r["status"] == "refused":
            rows.append(head + [f"refused (exit {r['exit_code']}): fitted for another embedder"] + [""] * 7)
            continue
        s, d, n, ok = r["style"], r["description"], r["near_duplicate"], r["met"]
        rows.append(head + [
            f"{_p(s['frr'])} / {_p(s['far'])}", f"{s['worst_artist']} {_p(s['worst_frr'], 1)}",
            "met" if ok["style"] else "NOT met",
            f"{_p(d['catch'], 1)} ({_p(d['catch_unshared'], 1)}) / {_p(d['fp_corpus'])} / {_p(d['fp_unseen'])}", "met" if ok["description"] else "NOT met",
            f"{_p(n['copies_caught'])} / {_p(n['fresh_flagged'], 3)}", "met" if ok["near_duplicate"] else "NOT met",
            _thresholds(r["thresholds"])])
    table("thresholds on held-out StyleWorld data (targets: style FRR ≤ 2% at FAR ≤ 1%, no artist > 5%; description "
          "≥ 95% at ≤ 1% FP; near-duplicate ≥ 99% copies at ≤ 0.1% fresh)",
          ["embedder", "split", "thresholds", "style FRR / FAR", "worst artist", "style", "description caught (of captions no other artist shares) / FP corpus / FP unseen",
           "description", "copies caught / fresh flagged", "near-dup", "thresholds in force"], rows)
    sc = results.get("scale")
    if sc:
        message(f"calibrate on {sc['artists']} artists / {sc['works']:,} works: {sc['calibrate_seconds']:.1f} s "
                f"(target ≤ 300 s: {'met' if sc['met'] else 'NOT met'}; workspace built in {sc['build_seconds']:.0f} s)")


# ----------------------------------------------------------------------- near-duplicates
def _neardup_scores(view: Any, embedder: Any, images: Sequence[Any], k: int, label: str,
                    seconds: list[float] | None = None, signature_pool: int | None = None) -> np.ndarray:
    """The gate's near-duplicate score of each image (best registered work; -1 when none).

    ``seconds`` collects each image's near-duplicate path (signature, candidates from CLIP and
    the signature index, registration), the CLIP embedding excluded. ``signature_pool=0``: CLIP's
    candidates only (the check before the signature index), for comparison.
    """
    from tqdm.auto import tqdm

    from stylegate.governance.matching.neardup import pixel_signature
    from stylegate.governance.matching.scores import NEAR_DUPLICATE_SIGNATURE_POOL, match_image

    pool = NEAR_DUPLICATE_SIGNATURE_POOL if signature_pool is None else signature_pool
    out = np.empty(len(images))
    for start in tqdm(range(0, len(images), 256), desc=f"near-duplicate {label}", mininterval=5, leave=False):
        batch = images[start:start + 256]
        for j, (image, vector) in enumerate(zip(batch, embedder.embed_images(batch))):
            t0 = time.perf_counter()
            match = match_image(vector, view, k, pixel_signature(image), signature_pool=pool)
            if seconds is not None:
                seconds.append(time.perf_counter() - t0)
            out[start + j] = max((d.score for d in match.near_duplicates), default=-1.0)
    return out


def run_neardup(works: int = 12, fresh_seeds: int = 53, fit_seeds: int = 53, copy_rounds: int = 1,
                say: Say = log.info) -> dict[str, Any]:
    """Near-duplicate rates of the shipped CLIP's gate with enough fresh renders to resolve 0.1%.

    The 12 artists are registered with ``works`` training renders. Test data: ``copy_rounds``
    transformed copies per work and transform, and fresh renders at ``fresh_seeds`` held-out seeds
    per artist and subject. A second threshold is fitted on separate data (copies with another
    seed, fresh renders at ``fit_seeds`` unregistered *training* seeds per pair: 5,088 at the
    default) as the lowest one that flags at most 0.1% of those fresh renders, and both are
    measured on the test data. Candidates come from CLIP and the signature index
    (governance/matching/signature_index.py); the near-duplicate path's time per image is kept.
    """
    from stylegate.bench.fixtures import register_styleworld
    from stylegate.governance.matching.calibration import threshold_at_far
    from stylegate.styleworld import world

    with tempfile.TemporaryDirectory(prefix="sg-bench-nd-") as tmp:
        ws = _workspace(Path(tmp), "styleworld-clip")
        register_styleworld(ws, Path(tmp) / "reference", per_artist=works)
        gate = ws.gate()
        view, k, shipped = gate.view, gate.policy.image.neighbours, gate.policy.thresholds.near_duplicate
        fit_copies, test_copies = HeldOut([], [], [], [], [], []), HeldOut([], [], [], [], [], [])
        add_copies(fit_copies, view.work_files, seed=777)
        for r in range(copy_rounds):
            add_copies(test_copies, view.work_files, seed=12345 + r)
        first_unused = works + 50  # training seeds above every registered work's
        fit_fresh = [world.render(a, s, seed) for a in world.ARTISTS for s in world.SUBJECTS
                     for seed in range(first_unused, first_unused + fit_seeds)]
        say(f"near-duplicate: fitting on {len(fit_copies.copies)} copies and {len(fit_fresh)} fresh training-seed renders")
        fit_c = _neardup_scores(view, ws.embedder, fit_copies.copies, k, "fit copies")
        fit_f = _neardup_scores(view, ws.embedder, fit_fresh, k, "fit fresh")
        del fit_fresh
        fitted = max(shipped, threshold_at_far(fit_f, 0.001))
        test_fresh = [world.render(a, s, seed) for a in world.ARTISTS for s in world.SUBJECTS
                      for seed in world.heldout_seeds(fresh_seeds)]
        say(f"near-duplicate: testing on {len(test_copies.copies)} copies and {len(test_fresh)} fresh held-out renders")
        seconds: list[float] = []
        test_c = _neardup_scores(view, ws.embedder, test_copies.copies, k, "test copies", seconds)
        test_f = _neardup_scores(view, ws.embedder, test_fresh, k, "test fresh", seconds)
        clip_seconds: list[float] = []
        clip_c = _neardup_scores(view, ws.embedder, test_copies.copies, k, "test copies, CLIP candidates only",
                                 clip_seconds, signature_pool=0)
    hows = np.array(test_copies.copy_how)
    rows = []
    for label, t in (("shipped", shipped), ("fitted on training-seed renders and copies", fitted)):
        rows.append({"threshold": float(t), "rule": label, "copies_caught": float(np.mean(test_c >= t)),
                     "by_transform": {h: float(np.mean(test_c[hows == h] >= t)) for h in TRANSFORMS},
                     "fresh_flagged": float(np.mean(test_f >= t)), "fresh_flagged_n": int(np.sum(test_f >= t)),
                     "fit_copies_caught": float(np.mean(fit_c >= t)), "fit_fresh_flagged": float(np.mean(fit_f >= t)),
                     "copies_caught_clip_only": float(np.mean(clip_c >= t))})
    curve = [{"threshold": float(t), "copies_caught": float(np.mean(test_c >= t)), "fresh_flagged": float(np.mean(test_f >= t))}
             for t in np.round(np.arange(0.985, 0.9981, 0.001), 3)]
    return {"works_per_artist": works, "copies": int(test_c.size), "fresh": int(test_f.size),
            "fit_copies": int(fit_c.size), "fit_fresh": int(fit_f.size), "rows": rows, "curve": curve,
            "fresh_scores_top": sorted((float(x) for x in test_f), reverse=True)[:10],
            "copy_scores_bottom": sorted(float(x) for x in test_c)[:10],
            "check_ms": {"p50": float(np.percentile(seconds, 50) * 1000), "p99": float(np.percentile(seconds, 99) * 1000)},
            "check_ms_clip_only_copies": {"p50": float(np.percentile(clip_seconds, 50) * 1000),
                                          "p99": float(np.percentile(clip_seconds, 99) * 1000)},
            "check_ms_copies": {"p50": float(np.percentile(seconds[:len(clip_seconds)], 50) * 1000),
                                "p99": float(np.percentile(seconds[:len(clip_seconds)], 99) * 1000)}}


def print_neardup(results: dict[str, Any]) -> None:
    from stylegate.output import message, table

    rows = [[r["rule"], f"{r['threshold']:.4f}", f"{_p(r['copies_caught'])} of {results['copies']:,}",
             ", ".join(f"{h} {_p(v, 1)}" for h, v in r["by_transform"].items()),
             f"{_p(r['fresh_flagged'], 3)} ({r['fresh_flagged_n']} of {results['fresh']:,})",
             "met" if r["copies_caught"] >= TARGETS["copies_caught"] and r["fresh_flagged"] <= TARGETS["fresh_flagged"]
             else "NOT met"] for r in results["rows"]]
    table("near-duplicates on held-out StyleWorld data, styleworld-clip (target ≥ 99% of copies at ≤ 0.1% of fresh renders)",
          ["threshold rule", "threshold", "copies caught", "by transform", "fresh renders flagged", "target"], rows)
    table("the same test data along the threshold", ["threshold", "copies caught", "fresh flagged"],
          [[f"{c['threshold']:.3f}", _p(c["copies_caught"]), _p(c["fresh_flagged"], 3)] for c in results["curve"]])
    for r in results["rows"]:
        message(f"{r['rule']} ({r['threshold']:.4f}): copies caught with CLIP's candidates only (no signature index) "
                f"{_p(r['copies_caught_clip_only'])}, with both {_p(r['copies_caught'])}")
    ms, mc, mo = results.get("check_ms"), results.get("check_ms_copies"), results.get("check_ms_clip_only_copies")
    if ms and mc and mo:
        message(f"near-duplicate path per image, embedding excluded: p50 {ms['p50']:.1f} ms, p99 {ms['p99']:.1f} ms "
                f"(all test images); on the copies {mc['p50']:.1f} / {mc['p99']:.1f} ms with the signature index, "
                f"{mo['p50']:.1f} / {mo['p99']:.1f} ms with CLIP's candidates only")
