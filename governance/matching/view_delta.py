"""Bring a registry view forward by a change set instead of building it again.

A running gate at 100,000 artists must see one artist's change within milliseconds; building
the whole view (every name into the matcher, every prototype, every descriptor embedded)
takes seconds. :func:`apply_changes` touches only the artists the registry's change log
names (``registry.changes``):

- ``artist`` changes: the artist's record, its names in the name matcher (removed and
  added again, only when its name or aliases changed) and its descriptor text prototype
  (only when its descriptors changed);
- ``works`` changes: the artist's works, their files, its works prototype (its vectors read
  back from ``index``, which already holds the change) and the style norms, which compare
  every artist's works with every other's: ``StyleNormState.update`` keeps the sum of all
  stored works (an artist with at most ``STYLE_TOP_M`` works reads its impostor sum from it)
  and moves the changed works' terms in the few summed ones (artists with more works), instead
  of comparing everyone with everyone again.

The result equals :func:`~stylegate.governance.matching.view.build_view` at the new
revision (``tests/test_view_delta.py`` checks this against random change sequences). The
caller falls back to a full build when the log cannot answer or names too many artists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stylegate.governance.matching.view import RegistryView, text_prototypes
from stylegate.registry.models import Artist

if TYPE_CHECKING:  # pragma: no cover
    from stylegate.registry.changes import ChangeSet
    from stylegate.registry.store import RegistryStore
    from stylegate.registry.style_index import StyleIndex

log = logging.getLogger(__name__)

DescriptorVectors = Callable[[Sequence[Artist]], tuple[np.ndarray, np.ndarray]]


def apply_changes(
    view: RegistryView,
    store: RegistryStore,
    changes: ChangeSet,
    index: StyleIndex | None,
    descriptor_vectors: DescriptorVectors | None = None,
    works_dir: Path | None = None,
) -> RegistryView:
    """Update ``view`` in place to the registry at ``changes.to_revision``; returns it."""
    if changes.everything:
        raise ValueError("this change set needs a full rebuild")
    current = store.artists_by_id(changes.touched)
    for artist_id in sorted(changes.artists):
        _apply_artist(view, artist_id, current.get(artist_id), descriptor_vectors)
    if changes.works:
        _apply_works(view, store, sorted(changes.works), index, works_dir)
    view.revision = changes.to_revision
    log.debug("registry view brought to revision %d: %d artists, %d with works changed",
              view.revision, len(changes.artists), len(changes.works))
    return view


def _labels(artist: Artist | None) -> tuple[str, ...]:
    return () if artist is None else (artist.name, *artist.aliases)


def _apply_artist(view: RegistryView, artist_id: int, after: Artist | None,
                  descriptor_vectors: DescriptorVectors | None) -> None:
    before = view.artists.get(artist_id)
    if _labels(before) != _labels(after):
        view.names.replace(artist_id, _labels(after))
    if after is None:
        view.artists.pop(artist_id, None)
    else:
        view.artists[artist_id] = after
    if descriptor_vectors is not None and (before is None or after is None or before.descriptors != after.descriptors):
        row = None
        if after is not None and after.descriptors:
            owners, vectors = descriptor_vectors([after])
            _, protos = text_prototypes(owners, vectors)
            row = protos[0]
        view.text_prototype_artists, view.text_prototypes = set_row(
            view.text_prototype_artists, view.text_prototypes, artist_id, row)


def _apply_works(view: RegistryView, store: RegistryStore, artist_ids: list[int], index: StyleIndex | None,
                 works_dir: Path | None) -> None:
    touched = set(artist_ids)
    if view.artist_works:  # held for every work of the view (the index had vectors): no scan
        gone = [int(w) for a in artist_ids if a in view.artist_works for w in view.artist_works[a][0]]
    else:
        gone = [w for w, a in view.work_artist.items() if a in touched]
    for work_id in gone:
        del view.work_artist[work_id]
        view.work_files.pop(work_id, None)
        view._signatures.pop(work_id, None)
    view._signature_index = None  # rebuilt on the next image check, from the signatures still cached
    works = store.works_of(artist_ids)
    for w in works:
        view.work_artist[w.id] = w.artist_id
        if works_dir is not None:
            view.work_files[w.id] = works_dir / w.path
    view.index = index
    if index is None:
        return
    if hasattr(view.artist_works, "rebind"):  # on-demand works read from the index now current
        view.artist_works.rebind(index)
    if len(index) == 0:  # the full build reads no works from an empty index
        view.artist_works = {}
    else:
        for artist_id in artist_ids:
            ids = np.array([w.id for w in works if w.artist_id == artist_id], dtype=np.int64)
            if ids.size:
                view.artist_works[artist_id] = (ids, index.reconstruct(ids))
            else:
                view.artist_works.pop(artist_id, None)
    dim = index.dim
    if view.prototypes.shape[1:] != (dim,):
        view.prototypes = np.zeros((0, dim), np.float32)
    for artist_id in artist_ids:
        held = view.artist_works.get(artist_id)
        row = None
        if held is not None:
            mean = held[1].mean(axis=0).astype(np.float32)
            row = mean / np.float32(max(float(np.linalg.norm(mean)), 1e-12))
        view.prototype_artists, view.prototypes = set_row(view.prototype_artists, view.prototypes, artist_id, row)
    # The norms compare each artist's works with everyone else's: the state updates the sum of
    # all works and the summed terms of the artists with more than STYLE_TOP_M works.
    from stylegate.governance.matching.scores import STYLE_TOP_M
    from stylegate.governance.matching.style_norm_sampled import build_norm_state

    state = view.norm_state
    if state is None or state.dim != dim:
        state = view.norm_state = build_norm_state(view.artist_works, STYLE_TOP_M, dim)
    else:
        for artist_id in artist_ids:
            held = view.artist_works.get(artist_id)
            state.update(artist_id, None if held is None else held[1], view.artist_works)
    view.style_norms = state.norms()


def set_row(ids: np.ndarray, rows: np.ndarray, artist_id: int, row: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``ids`` (sorted) and their ``rows`` with ``artist_id``'s row set to ``row``, or dropped for None."""
    at = int(np.searchsorted(ids, artist_id))
    present = at < len(ids) and int(ids[at]) == artist_id
    if row is None:
        if not present:
            return ids, rows
        return np.delete(ids, at), np.delete(rows, at, axis=0)
    row = np.asarray(row, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != row.shape[0]:
        rows = np.zeros((0, row.shape[0]), np.float32)
        ids, at, present = np.zeros(0, np.int64), 0, False
    if present:
        rows[at] = row
        return ids, rows
    return np.insert(ids, at, artist_id).astype(np.int64), np.insert(rows, at, row, axis=0)
