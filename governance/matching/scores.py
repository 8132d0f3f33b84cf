"""Scoring of prompt and image embeddings against the registry view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stylegate.governance.matching.artist_works import OnDemandArtistWorks
from stylegate.governance.matching.description_margin import margin_matrix, rivals
from stylegate.governance.matching.neardup import align, prefilter_score
from stylegate.governance.matching.style_margin import margins
from stylegate.governance.matching.view import RegistryView

STYLE_TOP_M = 3  # an artist's style score is the mean of its best M works
NEAR_DUPLICATE_CANDIDATES = 3  # works whose files are registered and compared pixel by pixel
# CLIP moves a crop away from its source (the source is among the 3 nearest works for ~92% of
# 3-20% crops on StyleWorld, among 16 for ~99%): the 16 nearest are ranked by a cheap
# half-resolution registration and the best NEAR_DUPLICATE_CANDIDATES get the full one.
NEAR_DUPLICATE_POOL = 16
# ... and CLIP alone misses some sources (a crop with a colour shift: 20th or 49th): the works whose
# crop windows best match the query's pixel layout (signature_index.py) join the pool.
NEAR_DUPLICATE_SIGNATURE_POOL = 8
# Above this many stored works the signature index is not built: its first build reads every
# work file (about 4 ms each) and each search scans every code, so large registries keep
# CLIP's candidates only (the near-duplicate pool still holds NEAR_DUPLICATE_POOL of them).
SIGNATURE_INDEX_MAX_WORKS = 20_000


@dataclass(frozen=True)
class ArtistScore:
    artist_id: int
    score: float
    rule: str
    detail: dict


def description_scores(query: np.ndarray, view: RegistryView, floor: float | None = None,
                       score: str = "plain") -> list[ArtistScore]:
    """How well a prompt's text vector describes each artist's style.

    The score averages two cosines: with the artist's works prototype (text → image, what
    CLIP was trained for) and with its descriptor text prototype (text → text). Either alone
    is weaker on StyleWorld: the works prototype also answers to subject matter ("a cat"
    resembles every artist who painted cats), descriptors to generic phrases. An artist with
    only one of the two is scored on that one. When the view has a neutral anchor, the
    prompt's cosine with it is subtracted (see :mod:`stylegate.governance.neutral`): ordinary words score near
    zero instead of sharing the common direction of every prototype.

    Scores are computed for every artist at once; only artists scoring at least ``floor``
    (all of them when None) are returned, so a gate over 100,000 artists builds a handful
    of records per prompt instead of one per artist. Order: the works prototypes' artists,
    then artists with descriptors only.

    ``score="margin"`` (:mod:`.description_margin`): each artist's score is its plain score minus
    the best other artist's (over every artist); ``floor`` applies to it, the plain score and the
    rival (``margin_over``, None when alone) are in the detail.
    """
    q = query.astype(np.float32)
    baseline = float(view.neutral_anchor @ q) if view.neutral_anchor is not None else 0.0
    works_ids = np.asarray(view.prototype_artists, dtype=np.int64) if view.prototypes.size else np.zeros(0, np.int64)
    text_ids = (np.asarray(view.text_prototype_artists, dtype=np.int64) if view.text_prototypes.size
                else np.zeros(0, np.int64))
    works_sims = (view.prototypes @ q).astype(np.float64) if works_ids.size else np.zeros(0)
    text_sims = (view.text_prototypes @ q).astype(np.float64) if text_ids.size else np.zeros(0)
    ids = np.concatenate([works_ids, text_ids[~np.isin(text_ids, works_ids)]])
    if not ids.size:
        return []
    order = np.argsort(ids, kind="stable")
    w_pos = order[np.searchsorted(ids[order], works_ids)]
    t_pos = order[np.searchsorted(ids[order], text_ids)]
    total = np.zeros(len(ids))
    count = np.zeros(len(ids))
    work_sim = np.full(len(ids), np.nan)
    text_sim = np.full(len(ids), np.nan)
    total[w_pos] += works_sims
    count[w_pos] += 1
    work_sim[w_pos] = works_sims
    total[t_pos] += text_sims
    count[t_pos] += 1
    text_sim[t_pos] = text_sims
    plain = total / count - baseline
    scores, rival_at = plain, None
    if score == "margin":
        rival_value, rival_index = rivals(plain[None, :])
        scores, rival_at = plain - rival_value[0], rival_index[0]
    elif score != "plain":
        raise ValueError(f"unknown description score {score!r}")
    keep = np.arange(len(ids)) if floor is None else np.flatnonzero(scores >= floor)
    neutral = {"neutral": round(baseline, 4)} if view.neutral_anchor is not None else {}
    out = []
    for i in keep.tolist():
        parts = {name: float(v[i]) for name, v in (("works", work_sim), ("descriptors", text_sim)) if not np.isnan(v[i])}
        detail: dict = {**{k: round(v, 4) for k, v in parts.items()}, **neutral}
        if rival_at is not None:
            r = int(rival_at[i])
            detail.update(plain=round(float(plain[i]), 4), margin=round(float(scores[i]), 4),
                          margin_over=int(ids[r]) if r >= 0 else None)
        out.append(ArtistScore(int(ids[i]), float(scores[i]), "style-prototype:" + "+".join(sorted(parts)), detail))
    return out


def artist_description_scores(queries: np.ndarray, view: RegistryView, artist_id: int) -> np.ndarray:
    """:func:`description_scores` of many text vectors for one artist, vectorised (steering
    scores dozens of rewrites of one prompt against one artist). -1 for an unknown artist."""
    q = np.atleast_2d(queries).astype(np.float32)
    parts = []
    for owners, prototypes in ((view.prototype_artists, view.prototypes),
                               (view.text_prototype_artists, view.text_prototypes)):
        if prototypes.size:
            row = np.flatnonzero(owners == artist_id)
            if row.size:
                parts.append(q @ prototypes[row[0]])
    if not parts:
        return np.full(len(q), -1.0, dtype=np.float32)
    baseline = q @ view.neutral_anchor if view.neutral_anchor is not None else 0.0
    return (np.mean(parts, axis=0) - baseline).astype(np.float32)


def description_matrix(queries: np.ndarray, view: RegistryView) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~stylegate.governance.matching.scores.description_scores` for many prompts at once:
    ``(artist_ids, scores)`` with one row per query."""
    ids = sorted(set(map(int, view.prototype_artists)) | set(map(int, view.text_prototype_artists)))
    artist_ids = np.array(ids, dtype=np.int64)
    q = queries.astype(np.float32)
    total = np.zeros((len(q), len(ids)), np.float64)
    count = np.zeros(len(ids), np.float64)
    col = {a: j for j, a in enumerate(ids)}
    for owners, protos in ((view.prototype_artists, view.prototypes), (view.text_prototype_artists, view.text_prototypes)):
        if protos.size:
            cols = np.array([col[int(a)] for a in owners])
            total[:, cols] += (q @ protos.T).astype(np.float64)
            count[cols] += 1
    scores = total / np.maximum(count, 1)[None, :]
    if view.neutral_anchor is not None:
        scores -= (q @ view.neutral_anchor).astype(np.float64)[:, None]
    return artist_ids, scores


def artist_description_margins(queries: np.ndarray, view: RegistryView, artist_id: int) -> np.ndarray:
    """:func:`artist_description_scores` under ``description_score = "margin"``: each text's
    score for the artist minus its best other artist's (steering brings this under the
    threshold when the policy compares margins). -1 for an unknown artist."""
    ids, scores = description_matrix(np.atleast_2d(queries), view)
    where = np.flatnonzero(ids == artist_id)
    if not where.size:
        return np.full(len(np.atleast_2d(queries)), -1.0, dtype=np.float32)
    return margin_matrix(scores)[:, int(where[0])].astype(np.float32)


class _PooledWorks:
    """The memory-mapped index's whole re-ranked candidate pool for one query (k·k_factor_rf
    works with exact cosines), grouped by artist.

    An artist is scored from its best pool works, without reading its other works from the
    file, when the pool holds all of its works, or STYLE_TOP_M of them whose lowest cosine
    beats the index's estimate of the best work left out of the pool (the pool's lowest PQ
    score plus the largest PQ error seen on the pool: :meth:`StyleIndex.search_pool`).
    Otherwise the caller reads all the artist's works. What this costs in scores and
    decisions against reading every candidate artist's works is measured by
    ``stylegate bench index`` (``best artist = exact``, ``max score diff``).
    """

    def __init__(self, view: RegistryView, query: np.ndarray, k: int) -> None:
        assert view.index is not None
        scores, ids, outside = view.index.search_pool(query, k)
        keep = ids[0] >= 0
        self.scores, self.ids, self.outside = scores[0][keep], ids[0][keep], float(outside[0])
        self.view = view
        self._by_artist: dict[int, list[int]] = {}
        for pos, w in enumerate(self.ids.tolist()):  # pool order is best first
            self._by_artist.setdefault(view.work_artist.get(w, -1), []).append(pos)

    def artist_top(self, artist_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(work ids, cosines) of the artist's best works when the pool vouches for them."""
        at = self._by_artist.get(artist_id, [])
        works = self.view.artist_works
        total = works.work_ids(artist_id).size if hasattr(works, "work_ids") else len(works[artist_id][0])
        if len(at) < total and (len(at) < STYLE_TOP_M or self.scores[at[STYLE_TOP_M - 1]] < self.outside):
            return None
        top = np.array(at[:STYLE_TOP_M])
        return self.ids[top], self.scores[top]


@dataclass(frozen=True)
class ImageMatch:
    style: list[ArtistScore]
    near_duplicates: list[ArtistScore]
    neighbours: list[tuple[int, float]]  # (work id, cosine), best first


def match_image(
    vector: np.ndarray, view: RegistryView, k: int, signature: np.ndarray | None = None,
    signature_pool: int = NEAR_DUPLICATE_SIGNATURE_POOL, pooled: bool = False,
) -> ImageMatch:
    """FAISS finds the k nearest works; each artist among them is then scored exactly.

    Style: the mean cosine of the image with the artist's best M works (over all the
    artist's works, so one same-subject work cannot carry a wrong artist). Near-duplicate:
    the nearest works confirmed by pixel correlation with the stored file, after registering
    the query on it (crops, resizes, shifts: see :mod:`.neardup`; ``signature`` is the
    query's pixel signature; without it, no near-duplicate evidence). The candidates are
    CLIP's nearest works and the ``signature_pool`` works of the signature index (0: CLIP's only).
    ``pooled`` (memory-mapped index only; the benchmark's variant, not the gate's): score
    candidate artists from the index's re-ranked pool where it vouches for them
    (:class:`_PooledWorks`), reading fewer works from the file at a measured cost.
    """
    if view.index is None or len(view.index) == 0:
        return ImageMatch([], [], [])
    query = vector.reshape(1, -1).astype(np.float32)
    want = min(k, len(view.index))
    reranked = _PooledWorks(view, query, want) if pooled and view.index.memory_mapped else None
    if reranked is not None:
        scores, ids = reranked.scores[None, :want], reranked.ids[None, :want]
    else:
        scores, ids = view.index.search(query, want)
    neighbours = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
    candidates = dict.fromkeys(view.work_artist[w] for w, _ in neighbours if w in view.work_artist)
    best: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if reranked is not None:
        best = {a: got for a in candidates if (got := reranked.artist_top(a)) is not None}
    missing = [a for a in candidates if a not in best]
    works = view.artist_works
    # exact from all the artist's works: on demand above the Flat threshold, in one read
    fetched = works.many(missing) if isinstance(works, OnDemandArtistWorks) else {a: works[a] for a in missing}
    for artist_id in missing:
        work_ids, vectors = fetched[artist_id]
        sims = vectors @ query[0]
        top = np.argsort(-sims)[:STYLE_TOP_M]
        best[artist_id] = work_ids[top], sims[top]
    style = []
    for artist_id in candidates:
        top_ids, top_sims = best[artist_id]
        cosine = float(top_sims.mean())
        detail: dict = {"works": [int(w) for w in top_ids]}
        norm = view.style_norms.get(artist_id)
        if norm is not None:  # the gate compares this one when the policy's style_score is "normalised"
            detail.update(normalised=float(norm.normalise(cosine)), **norm.detail())
        style.append(ArtistScore(artist_id, cosine, f"mean cosine of the artist's {len(top_ids)} closest works", detail))
    by_margin = margins({item.artist_id: float(item.detail["normalised"]) for item in style if "normalised" in item.detail})
    for item in style:
        if item.artist_id in by_margin:  # read when the policy's style_score is "margin"
            margin, rival = by_margin[item.artist_id]
            item.detail.update(margin=margin, margin_over=rival)
    dupes: dict[int, ArtistScore] = {}
    if signature is not None:
        pool: list[tuple[int, float | None]] = []
        if len(neighbours) < NEAR_DUPLICATE_POOL and len(view.index) > len(neighbours):
            more_s, more_i = view.index.search(query, min(NEAR_DUPLICATE_POOL, len(view.index)))
            pool = [(int(i), float(s)) for i, s in zip(more_i[0], more_s[0]) if i >= 0]
        else:
            pool = [(w, c) for w, c in neighbours[:NEAR_DUPLICATE_POOL]]
        by_signature: set[int] = set()
        if view.work_files and signature_pool > 0 and len(view.work_files) <= SIGNATURE_INDEX_MAX_WORKS:
            in_pool = {w for w, _ in pool}
            cosines = dict(neighbours)
            for w, _ in view.signature_index().search(signature, signature_pool):
                if w not in in_pool:
                    # its CLIP cosine for the evidence: exact, from the artist's stored vectors
                    clip_cos = cosines.get(w)
                    if clip_cos is None and w in view.work_artist and view.work_artist[w] in view.artist_works:
                        ids, vecs = view.artist_works[view.work_artist[w]]
                        hit = np.flatnonzero(ids == w)
                        clip_cos = float(vecs[hit[0]] @ query[0]) if hit.size else None
                    pool.append((w, clip_cos))
                    in_pool.add(w)
                    by_signature.add(w)
        signatures = {w: s for w, _ in pool if (s := view.work_signature(w)) is not None}
        ranked = sorted(((prefilter_score(signature, signatures[w]), w, c) for w, c in pool
                         if w in signatures and w in view.work_artist), reverse=True)
        for _, work_id, cos in ranked[:NEAR_DUPLICATE_CANDIDATES]:
            stored = signatures[work_id]
            artist_id = view.work_artist[work_id]
            fit = align(signature, stored)
            if artist_id not in dupes or fit.score > dupes[artist_id].score:
                dupes[artist_id] = ArtistScore(
                    artist_id, fit.score, "pixel correlation with a stored work after registration (crop/scale/shift)",
                    {"work_id": work_id, "clip_cosine": None if cos is None else round(cos, 4),
                     "candidate_from": "signature index" if work_id in by_signature else "clip",
                     "alignment": fit.detail()},
                )
    return ImageMatch(style, list(dupes.values()), neighbours)
