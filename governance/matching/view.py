"""A read-only view of the registry as the gate needs it: artists, names, prototypes, index."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stylegate.governance.matching.neardup import pixel_signature
from stylegate.governance.screening.names import NameMatcher
from stylegate.registry.models import Artist

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.governance.embedder import ClipEmbedder
    from stylegate.governance.matching.signature_index import SignatureIndex
    from stylegate.governance.matching.style_norm import StyleNorm, StyleNormState
    from stylegate.governance.matching.style_norm_sampled import SampledStyleNormState
    from stylegate.registry.store import RegistryStore
    from stylegate.registry.style_index import StyleIndex

log = logging.getLogger(__name__)


@dataclass
class RegistryView:
    artists: dict[int, Artist]
    work_artist: dict[int, int]
    names: NameMatcher
    index: StyleIndex | None = None
    # Image-modality prototype per artist: normalised mean of the artist's work vectors.
    prototype_artists: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    prototypes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    # Text-modality prototype per artist: normalised mean of its descriptor text vectors.
    text_prototype_artists: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    text_prototypes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    # Each artist's work ids and vectors (rows aligned), for exact per-artist style scores: a
    # dict in RAM, or read on demand from a memory-mapped index (see artist_works.py).
    artist_works: MutableMapping[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Stored work files, read on demand to confirm near-duplicates at the pixel level.
    work_files: dict[int, Path] = field(default_factory=dict)
    # Unit text vector of ordinary prompts: the description score's baseline (see neutral.py).
    neutral_anchor: np.ndarray | None = None
    # Per-artist impostor/genuine means of the style score (see style_norm.py).
    style_norms: Mapping[int, StyleNorm] = field(default_factory=dict)
    # What the norms are made of, so a works change updates them (built on the first one).
    # (exact up to 50,000 works, from a bounded sample above: style_norm_sampled.py)
    norm_state: StyleNormState | SampledStyleNormState | None = field(default=None, repr=False)
    _signatures: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _signature_index: SignatureIndex | None = field(default=None, repr=False)
    revision: int = 0

    def signature_index(self) -> SignatureIndex:
        """The window-code index of every readable stored work (built on first use: it reads
        every work file once; a works change drops it, see ``view_delta``)."""
        if self._signature_index is None:
            from stylegate.governance.matching.signature_index import SignatureIndex

            pairs = ((w, s) for w in sorted(self.work_files) if w in self.work_artist
                     and (s := self.work_signature(w)) is not None)
            self._signature_index = SignatureIndex(pairs)
            log.debug("signature index: %d works", len(self._signature_index))
        return self._signature_index

    def work_signature(self, work_id: int) -> np.ndarray | None:
        """The pixel signature of a stored work (cached), or None if its file is unreadable."""
        if work_id not in self._signatures:
            path = self.work_files.get(work_id)
            if path is None:
                return None
            from PIL import Image

            try:
                with Image.open(path) as image:
                    self._signatures[work_id] = pixel_signature(image)
            except OSError:
                log.warning("cannot read stored work %s for the near-duplicate check", path)
                return None
        return self._signatures[work_id]


def build_names(artists: list[Artist]) -> NameMatcher:
    matcher = NameMatcher()
    for artist in artists:
        matcher.add(artist.id, artist.name)
        for alias in artist.aliases:
            matcher.add(artist.id, alias)
    return matcher


def build_artist_works(
    work_artist: dict[int, int], index: StyleIndex
) -> MutableMapping[int, tuple[np.ndarray, np.ndarray]]:
    """Each artist's work ids and their vectors, read back from the index.

    A memory-mapped index (above the Flat threshold) gives an :class:`OnDemandArtistWorks`
    that holds the ids and reads the vectors from the index's file at each lookup.
    """
    if not work_artist or len(index) == 0:
        return {}
    work_ids = np.array(sorted(work_artist), dtype=np.int64)
    owners = np.array([work_artist[int(w)] for w in work_ids], dtype=np.int64)
    order = np.argsort(owners, kind="stable")  # grouped by artist, work ids ascending within
    artists, starts = np.unique(owners[order], return_index=True)
    groups = np.split(order, starts[1:])
    if index.memory_mapped:
        from stylegate.governance.matching.artist_works import OnDemandArtistWorks

        return OnDemandArtistWorks(index, {int(a): work_ids[rows] for a, rows in zip(artists, groups, strict=True)})
    vectors = index.reconstruct(work_ids)
    return {int(a): (work_ids[rows], vectors[rows]) for a, rows in zip(artists, groups, strict=True)}


def build_prototypes(artist_works: MutableMapping[int, tuple[np.ndarray, np.ndarray]],
                     dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-artist normalised mean of the artist's work vectors."""
    if not artist_works:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
    artist_ids = np.array(sorted(artist_works), dtype=np.int64)
    protos = np.stack([artist_works[int(a)][1].mean(axis=0) for a in artist_ids]).astype(np.float32)
    protos /= np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)
    return artist_ids, protos


def text_prototypes(owners: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-artist normalised mean of descriptor vectors (one style description per artist).

    A mean rather than the best single descriptor: artists share generic phrases ("a low
    horizon"), and one shared phrase must not make two styles look alike.
    """
    if owners.size == 0:
        return np.zeros(0, np.int64), np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), np.float32)
    artist_ids = np.unique(owners)
    protos = np.stack([vectors[owners == a].mean(axis=0) for a in artist_ids]).astype(np.float32)
    protos /= np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)
    return artist_ids, protos


def build_descriptor_vectors(
    artists: list[Artist], embedder: ClipEmbedder
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


def cached_descriptor_vectors(
    artists: list[Artist], embedder: ClipEmbedder, cache_dir: Path
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`build_descriptor_vectors`, cached on disk by embedder identity and descriptor set
    (written atomically; a cache of the wrong shape or unreadable is ignored and rewritten)."""
    owners = [a.id for a in artists for _ in a.descriptors]
    texts = [d for a in artists for d in a.descriptors]
    if not texts:
        return np.zeros(0, np.int64), np.zeros((0, embedder.dim), np.float32)
    key = hashlib.sha256(json.dumps([embedder.identity.to_dict(), owners, texts]).encode()).hexdigest()[:24]
    cache = cache_dir / f"descriptors-{key}.npy"
    if cache.exists():
        try:
            vectors = np.load(cache)
            if vectors.shape == (len(texts), embedder.dim):
                return np.array(owners, np.int64), vectors
        except (OSError, ValueError):
            log.warning("ignoring unreadable descriptor cache %s", cache)
    _, vectors = build_descriptor_vectors(list(artists), embedder)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(cache)
    return np.array(owners, np.int64), vectors


def build_view(
    store: RegistryStore,
    index: StyleIndex | None,
    descriptor_vectors: Callable[[list[Artist]], tuple[np.ndarray, np.ndarray]] | None = None,
    works_dir: Path | None = None,
    neutral_anchor: np.ndarray | None = None,
) -> RegistryView:
    """Everything the gate reads, taken from the store at one revision.

    ``descriptor_vectors`` embeds the artists' descriptor texts (the shell passes a cached
    version of ``build_descriptor_vectors``); without it, descriptors are not used.
    """
    artists = store.list_artists()
    works = store.list_works()
    work_artist = {w.id: w.artist_id for w in works}
    view = RegistryView(
        artists={a.id: a for a in artists},
        work_artist=work_artist,
        names=build_names(artists),
        index=index,
        revision=store.revision(),
        neutral_anchor=neutral_anchor,
    )
    if works_dir is not None:
        view.work_files = {w.id: works_dir / w.path for w in works}
    if index is not None:
        view.artist_works = build_artist_works(work_artist, index)
        view.prototype_artists, view.prototypes = build_prototypes(view.artist_works, index.dim)
        from stylegate.governance.matching.scores import STYLE_TOP_M
        from stylegate.governance.matching.style_norm_sampled import build_norm_state

        view.norm_state = build_norm_state(view.artist_works, STYLE_TOP_M, index.dim)
        view.style_norms = view.norm_state.norms()
    if descriptor_vectors is not None:
        view.text_prototype_artists, view.text_prototypes = text_prototypes(*descriptor_vectors(artists))
    log.debug("registry view at revision %d: %d artists, %d works", view.revision, len(artists), len(work_artist))
    return view
