"""A read-only view of the registry as the gate needs it: artists, names, prototypes, index."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from stylegate.governance.names import NameMatcher
from stylegate.registry.models import Artist

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.embedder import Embedder
    from stylegate.registry.store import RegistryStore
    from stylegate.registry.style_index import StyleIndex

log = logging.getLogger(__name__)


@dataclass
class RegistryView:
    artists: dict[int, Artist]
    work_artist: dict[int, int]
    names: NameMatcher
    index: "StyleIndex | None" = None
    # Image-modality prototype per artist: normalised mean of the artist's work vectors.
    prototype_artists: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    prototypes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    # Text-modality descriptor vectors, each owned by one artist.
    descriptor_artists: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    descriptors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    revision: int = 0


def build_names(artists: list[Artist]) -> NameMatcher:
    matcher = NameMatcher()
    for artist in artists:
        matcher.add(artist.id, artist.name)
        for alias in artist.aliases:
            matcher.add(artist.id, alias)
    return matcher


def build_prototypes(
    work_artist: dict[int, int], index: "StyleIndex"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-artist normalised mean of the work vectors stored in the index."""
    if not work_artist or len(index) == 0:
        return np.zeros(0, np.int64), np.zeros((0, index.dim), np.float32)
    work_ids = np.array(sorted(work_artist), dtype=np.int64)
    vectors = index.reconstruct(work_ids)
    owners = np.array([work_artist[int(w)] for w in work_ids], dtype=np.int64)
    artist_ids = np.unique(owners)
    protos = np.stack([vectors[owners == a].mean(axis=0) for a in artist_ids]).astype(np.float32)
    protos /= np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)
    return artist_ids, protos


def build_descriptor_vectors(
    artists: list[Artist], embedder: "Embedder"
) -> tuple[np.ndarray, np.ndarray]:
    owners: list[int] = []
    texts: list[str] = []
    for artist in artists:
        for text in artist.descriptors:
            owners.append(artist.id)
            texts.append(text)
    if not texts:
        return np.zeros(0, np.int64), np.zeros((0, embedder.dim), np.float32)
    return np.array(owners, dtype=np.int64), embedder.embed_texts(texts)


def build_view(
    store: "RegistryStore",
    index: "StyleIndex | None",
    descriptor_vectors: "Callable[[list[Artist]], tuple[np.ndarray, np.ndarray]] | None" = None,
) -> RegistryView:
    """Everything the gate reads, taken from the store at one revision.

    ``descriptor_vectors`` embeds the artists' descriptor texts (the shell passes a cached
    version of ``build_descriptor_vectors``); without it, descriptors are not used.
    """
    artists = store.list_artists()
    work_artist = {w.id: w.artist_id for w in store.list_works()}
    view = RegistryView(
        artists={a.id: a for a in artists},
        work_artist=work_artist,
        names=build_names(artists),
        index=index,
        revision=store.revision(),
    )
    if index is not None:
        view.prototype_artists, view.prototypes = build_prototypes(work_artist, index)
    if descriptor_vectors is not None:
        view.descriptor_artists, view.descriptors = descriptor_vectors(artists)
    log.debug("registry view at revision %d: %d artists, %d works", view.revision, len(artists), len(work_artist))
    return view
