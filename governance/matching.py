"""Scoring of prompt and image embeddings against the registry view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stylegate.governance.view import RegistryView

STYLE_TOP_M = 3  # an artist's style score is the mean of its best M neighbouring works


@dataclass(frozen=True)
class ArtistScore:
    artist_id: int
    score: float
    rule: str
    detail: dict


def prototype_scores(query: np.ndarray, view: RegistryView) -> list[ArtistScore]:
    """Cosine of a prompt's text vector with each artist's works prototype."""
    if view.prototypes.size == 0:
        return []
    sims = view.prototypes @ query.astype(np.float32)
    return [
        ArtistScore(int(a), float(s), "works-prototype", {})
        for a, s in zip(view.prototype_artists, sims)
    ]


def descriptor_scores(query: np.ndarray, view: RegistryView) -> list[ArtistScore]:
    """Best cosine of a prompt's text vector with each artist's descriptor texts."""
    if view.descriptors.size == 0:
        return []
    sims = view.descriptors @ query.astype(np.float32)
    best: dict[int, tuple[float, int]] = {}
    for i, (owner, sim) in enumerate(zip(view.descriptor_artists, sims)):
        owner = int(owner)
        if owner not in best or sim > best[owner][0]:
            best[owner] = (float(sim), i)
    return [ArtistScore(a, s, "descriptor", {"descriptor_index": i}) for a, (s, i) in best.items()]


@dataclass(frozen=True)
class ImageMatch:
    style: list[ArtistScore]
    near_duplicates: list[ArtistScore]
    neighbours: list[tuple[int, float]]  # (work id, cosine), best first


def match_image(vector: np.ndarray, view: RegistryView, k: int) -> ImageMatch:
    """k nearest works → per-artist style score, plus the single best work per artist."""
    if view.index is None or len(view.index) == 0:
        return ImageMatch([], [], [])
    scores, ids = view.index.search(vector.reshape(1, -1).astype(np.float32), min(k, len(view.index)))
    neighbours = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
    per_artist: dict[int, list[tuple[int, float]]] = {}
    for work_id, score in neighbours:
        artist_id = view.work_artist.get(work_id)
        if artist_id is not None:
            per_artist.setdefault(artist_id, []).append((work_id, score))
    style, dupes = [], []
    for artist_id, hits in per_artist.items():
        top = [s for _, s in hits[:STYLE_TOP_M]]
        style.append(ArtistScore(artist_id, float(np.mean(top)), f"mean of top-{len(top)} of {k} nearest works", {"works": [w for w, _ in hits[:STYLE_TOP_M]]}))
        best_work, best_score = hits[0]
        dupes.append(ArtistScore(artist_id, best_score, "closest single work", {"work_id": best_work}))
    return ImageMatch(style, dupes, neighbours)
