"""Fit the gate's thresholds for the running embedder from the workspace itself.

Three evidence kinds, each from data the workspace already holds:

- **style**: every registered work is a query, scored like an image check (mean cosine with
  an artist's 3 closest works). Positive: its own artist, with the work itself left out.
  Negative: the best *other* artist, which is also what an unregistered artist's image
  looks like to the gate.
- **near_duplicate** (pixel correlation): positives are transformed copies of registered
  works (resize, JPEG, crop, colour shift) run through the gate's own near-duplicate path
  (CLIP neighbours, then pixels); negatives are registered works against the nearest
  *other* works, i.e. fresh works of the same artist and subject.
- **description**: positives are prompts built from each artist's descriptors; negatives are
  the shipped multilingual corpus of ordinary prompts (:mod:`stylegate.governance.screening.ordinary`), scored against
  every artist (the best artist counts). Both the plain score and the margin over the best
  other artist (:mod:`.description_margin`) are fitted; the one with the lower FRR at the
  target FAR is kept and written as ``description_score``.

A global threshold is the lowest one whose false-accept rate (FAR) on the negatives is at
most the target. Where it rejects more than ``artist_frr_bound`` of one artist's positives,
that artist gets its own threshold, fitted on the negatives' scores against that artist at
the same target (kept only when it is lower than the global one).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stylegate.errors import CalibrationError
from stylegate.governance.matching.description_margin import margin_matrix
from stylegate.governance.matching.neardup import pixel_signature, pixel_similarity, prefilter_score
from stylegate.governance.matching.scores import (
    NEAR_DUPLICATE_CANDIDATES,
    NEAR_DUPLICATE_POOL,
    STYLE_TOP_M,
    description_matrix,
    match_image,
)
from stylegate.governance.matching.style_margin import margin_scores
from stylegate.governance.matching.thresholds import ArtistThreshold

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from stylegate.governance.matching.view import RegistryView
    from stylegate.governance.policy import Policy

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
EmbedTexts = Callable[[Sequence[str]], np.ndarray]
EmbedImages = Callable[[Sequence["Image.Image"]], np.ndarray]

KINDS = ("style", "near_duplicate", "description")
TRANSFORMS = ("resize", "jpeg", "crop", "colour")
# Subjects for described prompts: everyday ones, the kind every CLIP knows.
DESCRIPTION_SUBJECTS = ("boat", "cat", "house", "tree", "bird", "mountain", "flower", "lighthouse")
MAX_COPIES = 1600  # transformed copies embedded for the near-duplicate fit
MAX_NEGATIVE_WORKS = 1500  # works compared with their nearest other works (near-duplicate negatives)
MAX_PROMPTS_PER_ARTIST = 40


# ----------------------------------------------------------------------------- fitting
MIN_EXPECTED_FALSE_ACCEPTS = 10  # below this many, the empirical quantile alone is too noisy


def threshold_at_far(negatives: np.ndarray, far: float, *, guard: bool = True, linear: bool = False) -> float:
    """The lowest 4-decimal threshold that at most ``far`` of ``negatives`` reach (score ≥ t).

    With few negatives (fewer than 10 expected false accepts at ``far``) the empirical
    quantile underestimates the tail, so ``guard`` also takes a Gaussian fit of the scores in
    Fisher-z space (``arctanh``; they are cosines or correlations) at ``1 - far`` and keeps the
    higher of the two thresholds. ``linear`` scores (normalised style scores, unbounded) are
    fitted as they are, without the Fisher-z transform, and capped at 10 instead of 1.
    """
    neg = np.sort(np.asarray(negatives, dtype=np.float64)[np.isfinite(negatives)])[::-1]
    if neg.size == 0:
        raise CalibrationError("no negative scores to fit a threshold on")
    allowed = int(math.floor(far * neg.size + 1e-9))
    if allowed >= neg.size:
        t = math.floor(neg[-1] * 1e4) / 1e4
    else:
        t = math.floor(neg[allowed] * 1e4 + 1.0) / 1e4  # strictly above the (allowed+1)-th highest
    if guard and neg.size * far < MIN_EXPECTED_FALSE_ACCEPTS and neg.size >= 2:
        from statistics import NormalDist

        z = neg if linear else np.arctanh(np.clip(neg, -0.9999, 0.9999))
        tail = float(z.mean() + max(float(z.std(ddof=1)), 1e-6) * NormalDist().inv_cdf(1.0 - far))
        t = max(t, math.floor((tail if linear else math.tanh(tail)) * 1e4 + 1.0) / 1e4)
    return float(min(t, 10.0 if linear else 1.0))


def rate_at(scores: np.ndarray, threshold: float, accept: bool) -> float:
    """Share of ``scores`` at or above (``accept``) or below the threshold; NaN when empty."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)] if accept else s
    if s.size == 0:
        return float("nan")
    return float(np.mean(s >= threshold) if accept else np.mean(s < threshold))


@dataclass
class KindFit:
    """One evidence kind: its scores, the threshold chosen (or in force) and its error rates."""

    kind: str
    positives: np.ndarray  # the true artist's (or copy's) score, one per positive
    positive_artists: np.ndarray  # artist id per positive
    negatives: np.ndarray  # decision-level impostor score (best wrong artist), one per negative
    threshold: float
    target_far: float
    negative_groups: np.ndarray | None = None  # population per negative (FAR is met in each)
    per_artist: list[ArtistThreshold] = field(default_factory=list)
    artists: list[dict[str, Any]] = field(default_factory=list)  # per-artist FRR table
    far_overall: float = float("nan")  # FAR with per-artist thresholds in force
    frr_overall: float = float("nan")
    notes: list[str] = field(default_factory=list)
    score: str = ""  # style: the per-artist score the threshold applies to (the policy's style_score)

    @property
    def far(self) -> float:
        """FAR at the global threshold: the worst of the negative populations."""
        if self.negative_groups is None or self.negatives.size == 0:
            return rate_at(self.negatives, self.threshold, accept=True)
        return max(rate_at(self.negatives[self.negative_groups == g], self.threshold, accept=True)
                   for g in np.unique(self.negative_groups))

    @property
    def frr(self) -> float:
        return rate_at(self.positives, self.threshold, accept=False)

    def curve(self, points: int = 120) -> list[dict[str, float]]:
        """(threshold, FAR, FRR) over the range of scores, for ROC/DET charts."""
        both = np.concatenate([self.positives[np.isfinite(self.positives)], self.negatives[np.isfinite(self.negatives)]])
        if both.size == 0:
            return []
        grid = np.unique(np.concatenate([np.quantile(both, np.linspace(0, 1, points)), [self.threshold]]))
        groups = self.negative_groups if self.negative_groups is not None else np.zeros(len(self.negatives))
        # FAR per population (finite scores are the ones that can be accepted), the worst one drawn
        negs = [np.sort(self.negatives[groups == g]) for g in np.unique(groups)]
        pos = np.sort(self.positives)

        def far_at(t: float) -> float:
            return max(((n.size - np.searchsorted(n, t, "left")) / n.size for n in negs if n.size), default=float("nan"))

        return [{"threshold": float(t), "far": float(far_at(t)),
                 "frr": float(np.searchsorted(pos, t, "left") / pos.size) if pos.size else float("nan")}
                for t in grid]

    def summary(self) -> dict[str, Any]:
        def r(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else round(float(x), 5)

        return {
            "kind": self.kind, "threshold": self.threshold, "target_far": self.target_far,
            "far": r(self.far), "frr": r(self.frr), "positives": int(self.positives.size),
            "negatives": int(self.negatives.size), "far_overall": r(self.far_overall),
            "frr_overall": r(self.frr_overall), "per_artist": [p.model_dump() for p in self.per_artist],
            "worst_artists": sorted(self.artists, key=lambda a: -a["frr_global"])[:5], "notes": self.notes,
            **({"score": self.score} if self.score else {}),
        }


def fit_kind(
    kind: str,
    positives: np.ndarray,
    positive_artists: np.ndarray,
    negative_matrix: np.ndarray,
    artist_ids: np.ndarray,
    *,
    target_far: float,
    artist_frr_bound: float | None,
    names: dict[int, str],
    fixed: float | None = None,
    fixed_per_artist: Sequence[ArtistThreshold] = (),
    groups: np.ndarray | None = None,
    linear: bool = False,
) -> KindFit:
    """Fit (or, with ``fixed``, evaluate) a threshold from scores.

    ``negative_matrix`` has one row per negative query and one column per artist in
    ``artist_ids`` (``-inf`` where a pair does not count, e.g. a work against its own artist).
    A negative is falsely accepted when any artist's score reaches that artist's threshold.
    ``groups`` labels each negative row with its population (e.g. ordinary prompts, and
    described prompts against the wrong artist); the FAR target holds in every population.

    Fitting: the global threshold is the lowest with FAR ≤ ``target_far``. When it rejects
    more than ``artist_frr_bound`` of some artist's positives, part of the FAR budget is moved
    from the global threshold to per-artist ones (global refit at 75% or 50% of the target,
    per-artist thresholds as low as the remaining budget allows, overall FAR still ≤ target);
    the split with the lowest overall FRR wins, and no split at all when none helps.
    """
    negatives = negative_matrix.max(axis=1) if negative_matrix.size else np.zeros(0)
    groups = np.zeros(len(negatives), np.int64) if groups is None else np.asarray(groups)
    populations = [groups == g for g in np.unique(groups)]
    col = {int(a): j for j, a in enumerate(artist_ids)}

    def global_at(far: float) -> float:
        return max(threshold_at_far(negatives[m], far, linear=linear) for m in populations
                   if np.isfinite(negatives[m]).any())
    by_artist = {int(a): positives[positive_artists == a] for a in np.unique(positive_artists)}

    def overall(global_t: float, own: dict[int, float]) -> tuple[float, float]:
        t_cols = np.array([own.get(int(a), global_t) for a in artist_ids])
        hit = np.asarray((negative_matrix >= t_cols[None, :]).any(axis=1)) if negative_matrix.size else np.zeros(0, bool)
        far = max((float(np.mean(hit[m])) for m in populations if m.any()), default=float("nan"))
        t_pos = np.array([own.get(int(a), global_t) for a in positive_artists])
        frr = float(np.mean(positives < t_pos)) if positives.size else float("nan")
        return far, frr

    notes: list[str] = []
    if fixed is not None:
        threshold = float(fixed)
        chosen = {p.artist_id: p for p in fixed_per_artist if p.kind == kind}
    else:
        threshold = global_at(target_far)
        chosen = {}
        weak = [a for a, mine in by_artist.items()
                if artist_frr_bound is not None and rate_at(mine, threshold, False) > artist_frr_bound and a in col]
        best_frr = overall(threshold, {})[1]
        for share in (0.75, 0.5) if weak else ():
            g = global_at(target_far * share)
            lo, hi, own = 0.0, target_far, {}
            for _ in range(14):  # the largest per-artist budget that keeps overall FAR ≤ target
                mid = (lo + hi) / 2
                trial = {}
                for a in weak:
                    own_neg = negative_matrix[:, col[a]]
                    t_a = threshold_at_far(own_neg[np.isfinite(own_neg)], mid, linear=linear)
                    if t_a < g and rate_at(by_artist[a], t_a, False) < rate_at(by_artist[a], g, False):
                        trial[a] = t_a
                if overall(g, trial)[0] <= target_far:
                    lo, own = mid, trial
                else:
                    hi = mid
            far_s, frr_s = overall(g, own)
            if own and far_s <= target_far and frr_s < best_frr - 1e-12:
                threshold, best_frr = g, frr_s
                chosen = {}
                for a, t_a in own.items():
                    own_neg = negative_matrix[:, col[a]]
                    chosen[a] = ArtistThreshold(
                        kind=kind, artist_id=a, artist=names.get(a, ""), threshold=t_a,
                        global_frr=round(rate_at(by_artist[a], g, False), 5),
                        frr=round(rate_at(by_artist[a], t_a, False), 5),
                        far=round(rate_at(own_neg[np.isfinite(own_neg)], t_a, True), 5))
        for a in weak:
            if a not in chosen:
                notes.append(f"{names.get(a, a)}: FRR {rate_at(by_artist[a], threshold, False):.1%} at the global "
                             f"threshold; no threshold of its own lowers it within FAR ≤ {target_far:g}")
    smallest = min((int(np.isfinite(negatives[m]).sum()) for m in populations), default=0)
    if fixed is None and smallest and smallest * target_far < 1:
        notes.append(f"only {smallest} negatives: a FAR of {target_far:g} is below what they can measure "
                     f"(1/{smallest}), so the threshold sits above every negative; register more works to certify it")
    fit = KindFit(kind, positives, positive_artists, negatives, threshold, target_far, groups, notes=notes)
    for a, mine in by_artist.items():
        frr_global = rate_at(mine, threshold, accept=False)
        row = {"artist_id": a, "artist": names.get(a, str(a)), "positives": int(mine.size),
               "frr_global": round(frr_global, 5), "threshold": threshold, "frr": round(frr_global, 5),
               "rule": "global"}
        if a in chosen:
            row.update(threshold=chosen[a].threshold, frr=round(rate_at(mine, chosen[a].threshold, False), 5),
                       rule=f"per-artist: FRR {frr_global:.1%} at global threshold")
        fit.artists.append(row)
    fit.per_artist = sorted(chosen.values(), key=lambda p: p.artist_id)
    fit.far_overall, fit.frr_overall = overall(threshold, {p.artist_id: p.threshold for p in fit.per_artist})
    return fit


# ------------------------------------------------------------------------------ scores
def style_scores(view: RegistryView, top_m: int = STYLE_TOP_M, chunk: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Leave-one-out style scores of every work against every artist.

    Returns ``(artist_ids, work_owner, positives, negative_matrix)``: the positive is a work's
    score against its own artist with itself left out; the matrix holds its scores against
    every other artist (its own column is ``-inf``).
    """
    eligible = {a: v for a, v in view.artist_works.items() if len(v[0]) >= 2}
    if len(eligible) < 2:
        raise CalibrationError("style calibration needs at least 2 artists with 2 or more works each "
                               f"(the registry has {len(eligible)}); add works with `stylegate works add`")
    artist_ids = np.array(sorted(eligible), dtype=np.int64)
    vectors = np.concatenate([eligible[int(a)][1] for a in artist_ids]).astype(np.float32)
    owner = np.concatenate([np.full(len(eligible[int(a)][0]), a) for a in artist_ids])
    bounds = np.cumsum([0] + [len(eligible[int(a)][0]) for a in artist_ids])
    scores = np.empty((len(vectors), len(artist_ids)), np.float32)
    for start in range(0, len(vectors), chunk):
        sims = vectors[start:start + chunk] @ vectors.T
        rows = np.arange(start, min(start + chunk, len(vectors)))
        sims[rows - start, rows] = -np.inf  # a work never counts as its own neighbour
        for j in range(len(artist_ids)):
            block = sims[:, bounds[j]:bounds[j + 1]]
            m = min(top_m, block.shape[1])
            top = -np.partition(-block, m - 1, axis=1)[:, :m]
            own = (owner[rows] == artist_ids[j])
            if own.any():  # own artist: one work fewer (itself), so the best m of the rest
                m_own = min(top_m, block.shape[1] - 1)
                top_own = -np.partition(-block[own], m_own - 1, axis=1)[:, :m_own]
                vals = top.mean(axis=1)
                vals[own] = top_own.mean(axis=1)
                scores[rows, j] = vals
            else:
                scores[rows, j] = top.mean(axis=1)
    col = {int(a): j for j, a in enumerate(artist_ids)}
    own_cols = np.array([col[int(o)] for o in owner])
    positives = scores[np.arange(len(owner)), own_cols].astype(np.float64)
    negative = scores.astype(np.float64)
    negative[np.arange(len(owner)), own_cols] = -np.inf
    return artist_ids, owner, positives, negative


def normalise_style_scores(view: RegistryView, artist_ids: np.ndarray, owner: np.ndarray, positives: np.ndarray,
                           negative: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`style_scores` in the gate's normalised units (:mod:`.style_norm`), on the view's norms.

    Artists without a norm are left out (the gate scores them on the cosine fallback); fewer
    than 2 artists with a norm is a :class:`CalibrationError`.
    """
    keep = np.array([int(a) in view.style_norms for a in artist_ids], dtype=bool)
    if keep.sum() < 2:
        raise CalibrationError("normalised style calibration needs at least 2 artists with a style norm "
                               "(2 or more works whose own works are closer than strangers')")
    imp = np.array([view.style_norms[int(a)].impostor for a in artist_ids[keep]])
    gen = np.array([view.style_norms[int(a)].genuine for a in artist_ids[keep]])
    rows = np.isin(owner, artist_ids[keep])
    neg = (negative[rows][:, keep] - imp) / (gen - imp)  # -inf (own column) stays -inf
    col = {int(a): j for j, a in enumerate(artist_ids[keep])}
    own = np.array([col[int(o)] for o in owner[rows]])
    pos = (positives[rows] - imp[own]) / (gen[own] - imp[own])
    return artist_ids[keep], owner[rows], pos, neg


def descriptor_prompts(descriptors: Sequence[str], limit: int = MAX_PROMPTS_PER_ARTIST, seed: int = 0) -> list[str]:
    """Prompts a user describing this style might write, built from its descriptors."""
    d = [x.strip() for x in descriptors if x.strip()]
    out: list[str] = list(d)
    for i, a in enumerate(d):
        for b in d[i + 1:]:
            out += [f"{a}, {b}", f"{a} on {b}" if " paper" in b or "ground" in b else f"{a} with {b}"]
    for subject in DESCRIPTION_SUBJECTS:
        for i, a in enumerate(d):
            out.append(f"a {subject} in {a}")
            if len(d) > 1:
                out.append(f"a {subject}, {a}, {d[(i + 1) % len(d)]}")
        if len(d) > 2:
            out.append(f"{subject}: {', '.join(d)}")
    unique = list(dict.fromkeys(out))
    if len(unique) <= limit:
        return unique
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(len(unique), size=limit, replace=False))
    return [unique[i] for i in keep]


def _transform(image: Image.Image, how: str, rng: np.random.Generator) -> Image.Image:
    from PIL import Image

    w, h = image.size
    if how == "resize":
        f = float(rng.choice([0.75, 1.5, 2.0]))
        return image.resize((max(8, int(w * f)), max(8, int(h * f))), Image.Resampling.BICUBIC)
    if how == "jpeg":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(55, 86)))
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if how == "crop":  # up to 20% of each side's length removed, split unevenly, resized back
        fx, fy = rng.uniform(0.03, 0.2, 2)
        ax, ay = rng.uniform(0.0, 1.0, 2)
        box = (int(w * fx * ax), int(h * fy * ay), w - int(w * fx * (1 - ax)), h - int(h * fy * (1 - ay)))
        return image.crop(box).resize((w, h), Image.Resampling.BICUBIC)
    if "+" in how:  # a combination, applied left to right
        for step in how.split("+"):
            image = _transform(image, step, rng)
        return image
    if how == "colour":
        arr = np.asarray(image, dtype=np.float32)
        shift = rng.uniform(-25, 25, size=3)
        gain = rng.uniform(0.85, 1.15)
        return Image.fromarray(np.clip(arr * gain + shift, 0, 255).astype(np.uint8))
    raise ValueError(how)


def near_duplicate_scores(view: RegistryView, embed_images: EmbedImages, *, k: int, max_copies: int = MAX_COPIES,
                          seed: int = 0, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(copy_scores, copy_artists, fresh_scores, copy_transforms)`` for the near-duplicate check."""
    from PIL import Image

    if view.index is None or len(view.index) < 2:
        raise CalibrationError("near-duplicate calibration needs at least 2 registered works")
    work_ids = np.array(sorted(view.work_artist), dtype=np.int64)
    vectors = view.index.reconstruct(work_ids)
    # Negatives: each work against its nearest *other* works, by the gate's candidate rule.
    _, ids = view.index.search(vectors.astype(np.float32), NEAR_DUPLICATE_POOL + 1)
    fresh = []
    # The registered comparison costs ~10 ms; beyond MAX_NEGATIVE_WORKS works, a sample.
    rows = np.arange(len(work_ids))
    if len(rows) > MAX_NEGATIVE_WORKS:
        rows = np.sort(np.random.default_rng(seed + 1).choice(len(rows), MAX_NEGATIVE_WORKS, replace=False))
    for row in rows:
        work_id = work_ids[row]
        mine = view.work_signature(int(work_id))
        if mine is None:
            continue
        others = [int(i) for i in ids[row] if i >= 0 and int(i) != int(work_id)][:NEAR_DUPLICATE_POOL]
        stored = [s for s in (view.work_signature(o) for o in others) if s is not None]
        stored = sorted(stored, key=lambda s: -prefilter_score(mine, s))[:NEAR_DUPLICATE_CANDIDATES]
        sims = [pixel_similarity(mine, s) for s in stored]
        if sims:
            fresh.append(max(sims))
        if progress and row % 200 == 0:
            progress(int(row), len(work_ids) + max_copies)
    # Positives: transformed copies through the gate's own near-duplicate path.
    rng = np.random.default_rng(seed)
    n_sources = min(len(work_ids), max(1, max_copies // len(TRANSFORMS)))
    sources = work_ids[np.sort(rng.choice(len(work_ids), size=n_sources, replace=False))]
    copies, owners, hows = [], [], []
    for work_id in sources:
        path = view.work_files.get(int(work_id))
        if path is None:
            continue
        try:
            with Image.open(path) as im:
                original = im.convert("RGB")
        except OSError:
            continue
        for how in TRANSFORMS:
            copies.append(_transform(original, how, rng))
            owners.append(view.work_artist[int(work_id)])
            hows.append(how)
    scores = []
    for start in range(0, len(copies), 256):
        batch = copies[start:start + 256]
        for image, vector in zip(batch, embed_images(batch)):
            match = match_image(vector, view, k, pixel_signature(image))
            scores.append(max((d.score for d in match.near_duplicates), default=-1.0))
        if progress:
            progress(len(work_ids) + start + len(batch), len(work_ids) + len(copies))
    return np.array(scores), np.array(owners, dtype=np.int64), np.array(fresh), hows


def _lower_frr(fits: list[KindFit], kind: str) -> KindFit:
    """The fit with the lower overall FRR (then the lower FAR; ties to the first), noting the others."""
    best = min(fits, key=lambda f: (f.frr_overall if math.isfinite(f.frr_overall) else 2.0,
                                    f.far_overall if math.isfinite(f.far_overall) else 2.0))
    if len(fits) > 1:
        others = ", ".join(f"{f.score}: FRR {f.frr_overall:.1%} at FAR {f.far_overall:.2%}" for f in fits if f is not best)
        best.notes.append(f"{kind} score {best.score} (FRR {best.frr_overall:.1%} at FAR {best.far_overall:.2%}) "
                          f"chosen over {others}")
    return best


def fit_style(view: RegistryView, style_score: str, *, target_far: float, artist_frr_bound: float,
              names: dict[int, str], choose: bool, **fixed: Any) -> KindFit:
    """The style fit under ``style_score``; with ``choose`` (fitting, and a normalised or margin
    policy), both per-artist scores are fitted and the one with the lower overall FRR at the
    target FAR is kept (its name is ``KindFit.score``; equal FRRs go to the lower FAR, then to the
    normalised score)."""
    artist_ids, owner, pos, neg = style_scores(view)
    if style_score == "cosine":
        fit = fit_kind("style", pos, owner, neg, artist_ids, target_far=target_far,
                       artist_frr_bound=artist_frr_bound, names=names, **fixed)
        fit.score = "cosine"
        return fit
    artist_ids, owner, pos, neg = normalise_style_scores(view, artist_ids, owner, pos, neg)
    col = {int(a): j for j, a in enumerate(artist_ids)}
    m_pos, m_neg = margin_scores(pos, neg, np.array([col[int(o)] for o in owner]))
    scores = {"normalised": (pos, neg), "margin": (m_pos, m_neg)}
    candidates = list(scores) if choose else [style_score]
    fits = []
    for name in candidates:
        p, n = scores[name]
        f = fit_kind("style", p, owner, n, artist_ids, target_far=target_far, artist_frr_bound=artist_frr_bound,
                     names=names, linear=True, **fixed)
        f.score = name
        fits.append(f)
    return _lower_frr(fits, "style")


def fit_description(scores: np.ndarray, artist_ids: np.ndarray, prompt_artists: Sequence[int], corpus: int,
                    description_score: str, *, target_far: float, artist_frr_bound: float, names: dict[int, str],
                    choose: bool, **fixed: Any) -> KindFit:
    """The description fit from ``scores`` (rows: the described prompts, one per entry of
    ``prompt_artists``, then ``corpus`` ordinary prompts; columns: ``artist_ids``).

    Negatives: ordinary prompts against every artist, and described prompts against every
    artist but their own (describing one style must not flag another); the FAR target holds in
    both. With ``choose`` (fitting), the plain score and the margin (:mod:`.description_margin`)
    are both fitted and the one with the lower overall FRR at the target FAR is kept (its name
    is ``KindFit.score``; equal FRRs go to the lower FAR, then to the plain score); otherwise
    ``description_score`` is used.
    """
    col = {int(a): j for j, a in enumerate(artist_ids)}
    pos_rows = [i for i, a in enumerate(prompt_artists) if a in col]
    own = np.array([col[prompt_artists[i]] for i in pos_rows], dtype=np.int64)
    pos_artists = np.array([prompt_artists[i] for i in pos_rows], dtype=np.int64)
    n_described = len(prompt_artists)
    by_score = {"plain": scores, "margin": margin_matrix(scores) if scores.size else scores}
    fits = []
    for name in (list(by_score) if choose else [description_score]):
        m = by_score[name]
        pos = m[pos_rows, own] if pos_rows else np.zeros(0)
        wrong = m[pos_rows].copy() if pos_rows else np.zeros((0, len(artist_ids)))
        wrong[np.arange(len(pos_rows)), own] = -np.inf
        neg = np.concatenate([m[n_described:n_described + corpus], wrong])
        groups = np.concatenate([np.zeros(corpus, np.int64), np.ones(len(wrong), np.int64)])
        f = fit_kind("description", pos, pos_artists, neg, artist_ids, groups=groups, target_far=target_far,
                     artist_frr_bound=artist_frr_bound, names=names, linear=name == "margin", **fixed)
        f.score = name
        fits.append(f)
    return _lower_frr(fits, "description")


# --------------------------------------------------------------------------- the run
@dataclass
class CalibrationResult:
    embedder: dict[str, Any]
    fits: dict[str, KindFit]
    target_far: float
    near_duplicate_far: float
    artist_frr_bound: float
    seconds: float
    counts: dict[str, int]
    fitted: bool  # False: the policy's thresholds evaluated, not refit

    def to_dict(self) -> dict[str, Any]:
        return {"embedder": self.embedder, "fitted": self.fitted, "target_far": self.target_far,
                "near_duplicate_far": self.near_duplicate_far, "artist_frr_bound": self.artist_frr_bound,
                "seconds": round(self.seconds, 2), "counts": self.counts,
                "kinds": {k: f.summary() for k, f in self.fits.items()}}


def _cached_text_vectors(texts: list[str], embed_texts: EmbedTexts, identity: dict[str, Any],
                         cache_dir: Path | None) -> np.ndarray:
    if cache_dir is None:
        return embed_texts(texts)
    key = hashlib.sha256(json.dumps([identity, texts]).encode()).hexdigest()[:24]
    path = cache_dir / f"calibration-texts-{key}.npy"
    if path.exists():
        try:
            vectors = np.load(path)
            if vectors.shape[0] == len(texts):
                return vectors
        except (OSError, ValueError):
            log.warning("ignoring unreadable cache %s", path)
    vectors = embed_texts(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def calibrate(
    view: RegistryView,
    embed_texts: EmbedTexts,
    embed_images: EmbedImages,
    identity: dict[str, Any],
    policy: Policy,
    *,
    target_far: float | None = None,
    fit: bool = True,
    cache_dir: Path | None = None,
    max_copies: int = MAX_COPIES,
    progress: Callable[[str, int, int], None] | None = None,
) -> CalibrationResult:
    """Fit (``fit=True``) or evaluate the policy's thresholds on this workspace."""
    from stylegate.governance.screening.ordinary import ordinary_prompts

    started = time.perf_counter()
    cal = policy.calibration
    far = float(target_far if target_far is not None else cal.target_far)
    if not 0.0 < far < 1.0:
        raise CalibrationError(f"the target false-accept rate must be in (0, 1), got {far}")
    names = {a.id: a.name for a in view.artists.values()}
    th = policy.thresholds

    def step(stage: str) -> Progress | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    def fixed(kind: str) -> dict[str, Any]:
        if fit:
            return {}
        return {"fixed": float(getattr(th, kind)), "fixed_per_artist": cal.per_artist}

    fits: dict[str, KindFit] = {}
    # style
    if progress:
        progress("style", 0, 1)
    fits["style"] = fit_style(view, th.style_score, target_far=far, artist_frr_bound=cal.artist_frr_bound,
                              names=names, choose=fit, **fixed("style"))
    if progress:
        progress("style", 1, 1)
    # near-duplicate
    copy_scores, copy_artists, fresh, _ = near_duplicate_scores(
        view, embed_images, k=policy.image.neighbours, max_copies=max_copies, progress=step("near-duplicate"))
    # A pixel correlation means the same on every embedder, and a workspace rarely holds the
    # hardest negatives (a fresh work of the same artist and subject), so the fit may raise the
    # near-duplicate threshold above the policy's but never lowers it.
    nd = fit_kind("near_duplicate", copy_scores, copy_artists, fresh[:, None], np.array([0]),
                  target_far=cal.near_duplicate_far, artist_frr_bound=None, names=names, **fixed("near_duplicate"))
    if fit and nd.threshold < th.near_duplicate:
        fitted_t = nd.threshold
        nd = fit_kind("near_duplicate", copy_scores, copy_artists, fresh[:, None], np.array([0]),
                      target_far=cal.near_duplicate_far, artist_frr_bound=None, names=names,
                      fixed=float(th.near_duplicate))
        nd.notes.append(f"registered works alone allow {fitted_t:.4f}; kept the policy's pixel threshold "
                        f"{th.near_duplicate} (pixel correlations do not depend on the embedder; the fit only raises it)")
    fits["near_duplicate"] = nd
    # description
    prompts, prompt_artists = [], []
    for artist in sorted(view.artists.values(), key=lambda a: a.id):
        for text in descriptor_prompts(artist.descriptors, seed=artist.id):
            prompts.append(text)
            prompt_artists.append(artist.id)
    corpus = [t for _, t in ordinary_prompts()]
    if progress:
        progress("description", 0, len(prompts) + len(corpus))
    vectors = _cached_text_vectors(prompts + corpus, embed_texts, identity, cache_dir)
    d_ids, d_scores = description_matrix(vectors, view)
    if d_ids.size == 0:
        raise CalibrationError("description calibration needs registered artists with works or descriptors")
    fits["description"] = fit_description(d_scores, d_ids, prompt_artists, len(corpus), th.description_score,
                                          target_far=far, artist_frr_bound=cal.artist_frr_bound, names=names,
                                          choose=fit, **fixed("description"))
    if not fits["description"].positives.size:
        fits["description"].notes.append("no artist has descriptors: FRR unmeasured, threshold from FAR alone")
    if progress:
        progress("description", len(prompts) + len(corpus), len(prompts) + len(corpus))
    counts = {"artists": len(view.artists), "works": len(view.work_artist), "description_prompts": len(prompts),
              "ordinary_prompts": len(corpus), "copies": int(copy_scores.size), "fresh_works": int(fresh.size)}
    return CalibrationResult(identity, fits, far, cal.near_duplicate_far, cal.artist_frr_bound,
                             time.perf_counter() - started, counts, fit)


# ------------------------------------------------------------------- the policy file
_HEADER = __import__("re").compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?\s*(#.*)?$")


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _toml_value(value: float | str) -> str:
    return _toml_str(value) if isinstance(value, str) else repr(value)


def calibration_block(result: CalibrationResult, policy: Policy, fitted_at: str) -> str:
    """The ``[calibration]`` section for a fitted result, as readable TOML."""
    cal = policy.calibration
    e = result.embedder
    lines = [
        "[calibration]",
        f"# Written by `stylegate calibrate` at {fitted_at}: the description, style and near_duplicate",
        "# thresholds in [thresholds] were fitted on this workspace for the embedder below.",
        f"semantic = {_toml_str(cal.semantic)}",
        f"target_far = {result.target_far!r}",
        f"near_duplicate_far = {result.near_duplicate_far!r}",
        f"artist_frr_bound = {result.artist_frr_bound!r}",
        f"fitted_at = {_toml_str(fitted_at)}",
        "",
        "[calibration.embedder]",
        f"model = {_toml_str(str(e['model']))}",
        f"checkpoint_sha256 = {_toml_str(str(e['checkpoint_sha256']))}",
        f"dim = {int(e['dim'])}",
        "",
    ]
    for kind in ("description", "style", "near_duplicate"):
        f = result.fits[kind]
        lines.append(f"[calibration.rates.{kind}]")
        lines.append(f"far = {round(f.far, 6)!r}")
        if math.isfinite(f.frr):
            lines.append(f"frr = {round(f.frr, 6)!r}")
        lines += [f"positives = {int(f.positives.size)}", f"negatives = {int(f.negatives.size)}", ""]
    for kind in ("description", "style"):
        for p in result.fits[kind].per_artist:
            lines += [
                "[[calibration.per_artist]]",
                f"# global {kind} threshold {result.fits[kind].threshold} rejected {p.global_frr:.1%} of this artist",
                f"kind = {_toml_str(kind)}", f"artist_id = {p.artist_id}", f"artist = {_toml_str(p.artist)}",
                f"threshold = {p.threshold!r}", f"global_frr = {p.global_frr!r}", f"frr = {p.frr!r}",
                f"far = {p.far!r}", "",
            ]
    return "\n".join(lines)


def calibrated_policy_text(text: str, result: CalibrationResult, policy: Policy, fitted_at: str) -> str:
    """``text`` with the fitted thresholds and a new ``[calibration]`` section; everything
    else (other sections, comments) kept as it was."""
    lines = text.splitlines()
    out: list[str] = []
    section: str | None = None
    seen_keys: set[str] = set()
    values: dict[str, float | str] = {k: result.fits[k].threshold for k in ("description", "style", "near_duplicate")}
    if result.fits["style"].score:
        values["style_score"] = result.fits["style"].score
    if result.fits["description"].score in ("plain", "margin"):
        values["description_score"] = result.fits["description"].score
    skipping: list[str] = []  # comment/blank lines held back while inside [calibration]
    thresholds_at = None
    for line in lines:
        m = _HEADER.match(line)
        if m:
            section = m.group(1).strip('"')
            if section.split(".")[0] == "calibration":
                skipping = []
                continue
            out.extend(skipping)  # comments just above the next section belong to it
            skipping = []
            if section == "thresholds":
                thresholds_at = len(out)
            out.append(line)
            continue
        if section is not None and section.split(".")[0] == "calibration":
            stripped = line.strip()
            if stripped.startswith("#") or not stripped:
                skipping.append(line)
            else:
                skipping = []
            continue
        if section == "thresholds":
            key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else ""
            if key in values:
                out.append(f"{key} = {_toml_value(values[key])}")
                seen_keys.add(key)
                continue
        out.append(line)
    if thresholds_at is None:
        out.insert(0, "[thresholds]")
        thresholds_at = 0
    missing = [f"{k} = {_toml_value(v)}" for k, v in values.items() if k not in seen_keys]
    out[thresholds_at + 1:thresholds_at + 1] = missing
    body = "\n".join(out).rstrip() + "\n\n" + calibration_block(result, policy, fitted_at).rstrip() + "\n"
    return body


def write_policy(path: Path, text: str) -> None:
    """Validate ``text`` as a policy, then replace ``path`` atomically (temp file, fsync, rename)."""
    import os

    from stylegate.governance.policy import parse_policy

    parse_policy(text, source=str(path))  # never write a policy the next run cannot load
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
