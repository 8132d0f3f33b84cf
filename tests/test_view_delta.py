"""A running gate's view brought forward by the registry's change log equals a fresh build.

Random sequences of registrations, renames, alias and descriptor edits, consent changes,
work uploads and withdrawals and removals are applied to a real registry (SQLite, and
PostgreSQL for the short sequence) and a real style index; after each step the incrementally
updated view must screen a set of prompts exactly as a freshly built view does, and hold the
same artists, works, prototypes and style norms.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from stylegate.errors import DuplicateArtist, InputError
from stylegate.governance.matching.scores import STYLE_TOP_M
from stylegate.governance.matching.style_norm import style_norms
from stylegate.governance.matching.view import RegistryView, build_view
from stylegate.governance.matching.view_delta import apply_changes, set_row
from stylegate.registry.models import Artist, Consent
from stylegate.registry.store import RegistryStore, sqlite_url
from stylegate.registry.style_index import StyleIndex

DIM = 16
IDENT = {"model": "test", "checkpoint_sha256": "0" * 64, "dim": DIM}
GIVEN = ("Wren", "Ines", "Tomasz", "Amara", "Kei", "Olek", "Sigrid", "Maren")
SURNAMES = ("Halloway", "Marrow", "Rutkowski", "Lindqvist", "Okonkwo", "Stalenhag", "Queen", "Vasquez-Reyes")
WORDS = ("forest", "light", "harbour", "fog", "oil", "ink", "dusk")


def descriptor_vectors(artists: Sequence[Artist]) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic text vectors (a seeded hash of each text), the shape the embedder gives."""
    owners = [a.id for a in artists for _ in a.descriptors]
    texts = [d for a in artists for d in a.descriptors]
    rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=DIM) for t in texts]
    vectors = np.array(rows, dtype=np.float32).reshape(len(texts), DIM)
    return np.array(owners, dtype=np.int64), vectors


def _name(rng: random.Random) -> str:
    return f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}"


def _prompts(labels: set[str]) -> list[str]:
    out = ["a harbour in the fog, oil on canvas", "a queen on a throne", "by Queen"]
    for label in sorted(labels):
        parts = label.split()
        out += [f"a forest in the style of {label}", f"{label}'s harbour at dusk"]
        if len(parts) > 1:
            out += [f"in the style of {parts[-1]}", f"{parts[-1]} {parts[0]} painting", f"by {label[:-2] + label[-1]}"]
    return out


def _same(incremental: RegistryView, fresh: RegistryView, prompts: list[str]) -> None:
    assert incremental.revision == fresh.revision
    assert incremental.artists == fresh.artists
    assert incremental.work_artist == fresh.work_artist
    assert incremental.work_files == fresh.work_files
    for a, b in ((incremental.prototype_artists, fresh.prototype_artists),
                 (incremental.text_prototype_artists, fresh.text_prototype_artists)):
        assert a.tolist() == b.tolist()
    np.testing.assert_allclose(incremental.prototypes, fresh.prototypes, atol=1e-6)
    np.testing.assert_allclose(incremental.text_prototypes, fresh.text_prototypes, atol=1e-6)
    assert sorted(incremental.artist_works) == sorted(fresh.artist_works)
    for artist_id, (ids, vectors) in fresh.artist_works.items():
        assert incremental.artist_works[artist_id][0].tolist() == ids.tolist()
        np.testing.assert_array_equal(incremental.artist_works[artist_id][1], vectors)
    assert sorted(incremental.style_norms) == sorted(fresh.style_norms)
    reference = style_norms(fresh.artist_works, STYLE_TOP_M)  # the norms computed from scratch
    assert sorted(reference) == sorted(fresh.style_norms)
    for artist_id, norm in reference.items():
        for view in (incremental, fresh):
            got = view.style_norms[artist_id]
            assert (got.works, got.impostors) == (norm.works, norm.impostors)
            assert got.impostor == pytest.approx(norm.impostor, abs=1e-5)
            assert got.genuine == pytest.approx(norm.genuine, abs=1e-5)
    for prompt in prompts:
        assert incremental.names.find(prompt) == fresh.names.find(prompt), prompt


def _step(rng: random.Random, store: RegistryStore, index: StyleIndex, labels: set[str], next_work: list[int]) -> None:
    artists = store.list_artists()
    action = rng.choice(["add", "add", "rename", "alias", "descriptors", "consent", "works", "unwork", "remove"])
    if action == "add" or not artists:
        name = _name(rng)
        labels.add(name)
        aliases = (rng.choice(SURNAMES),) if rng.random() < 0.2 else ()
        try:
            store.add_artist(name, consent=rng.choice((Consent.OPT_OUT, Consent.CREDIT)), aliases=aliases,
                             descriptors=tuple(rng.sample(WORDS, rng.randint(0, 2))))
        except (DuplicateArtist, InputError):
            pass
        labels.update(aliases)
        return
    artist = rng.choice(artists)
    try:
        if action == "rename":
            name = _name(rng)
            labels.add(name)
            store.update_artist(artist.id, name=name)
        elif action == "alias":
            alias = rng.choice([_name(rng), rng.choice(SURNAMES) + rng.choice(("", "ski", "ova"))])
            labels.add(alias)
            store.update_artist(artist.id, aliases=(*artist.aliases, alias) if rng.random() < 0.7 else ())
        elif action == "descriptors":
            store.update_artist(artist.id, descriptors=tuple(rng.sample(WORDS, rng.randint(0, 3))))
        elif action == "consent":
            store.update_artist(artist.id, consent=Consent.CREDIT if artist.consent is Consent.OPT_OUT else Consent.OPT_OUT)
        elif action == "works":
            records = []
            for _ in range(rng.randint(1, 3)):
                next_work[0] += 1
                k = next_work[0]
                records.append({"sha256": f"{k:064x}", "path": f"00/{k}.png", "format": "PNG", "width": 8,
                                "height": 8, "size_bytes": 100})
            with store.transaction() as tx:
                added = store.insert_works(tx, artist.id, records)
            vectors = np.random.default_rng(next_work[0]).normal(size=(len(added), DIM)).astype(np.float32)
            index.add(np.array([w.id for w in added]), vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        elif action == "unwork":
            works = store.list_works(artist.id)
            if works:
                gone = rng.sample(works, rng.randint(1, len(works)))
                with store.transaction() as tx:
                    store.delete_works(tx, [w.id for w in gone])
                index.remove(np.array([w.id for w in gone]))
        else:
            _, gone_works = store.remove_artist(artist.id)
            if gone_works:
                index.remove(np.array([w.id for w in gone_works]))
    except (DuplicateArtist, InputError):
        pass  # a collision the registry refuses changes nothing


def _run(store: RegistryStore, tmp_path: Path, steps: int, seed: int) -> None:
    rng = random.Random(seed)
    index = StyleIndex.create(DIM, IDENT)
    works_dir = tmp_path / "works"
    labels: set[str] = set()
    next_work = [0]
    for _ in range(4):
        _step(rng, store, index, labels, next_work)
    view = build_view(store, index, descriptor_vectors, works_dir)
    for _ in range(steps):
        for _ in range(rng.randint(1, 3)):  # one or several changes between two checks
            _step(rng, store, index, labels, next_work)
        changes = store.changes_since(view.revision)
        assert changes is not None and not changes.everything
        apply_changes(view, store, changes, index, descriptor_vectors, works_dir)
        _same(view, build_view(store, index, descriptor_vectors, works_dir), _prompts(labels))


@pytest.mark.parametrize("seed", [1, 2])
def test_random_changes_applied_incrementally_equal_a_fresh_build(tmp_path: Path, seed: int) -> None:
    with RegistryStore.open(sqlite_url(tmp_path / "registry.db")) as store:
        _run(store, tmp_path, steps=25, seed=seed)


def test_incremental_view_on_each_backend(db_url: str, tmp_path: Path) -> None:
    with RegistryStore.open(db_url) as store:
        _run(store, tmp_path, steps=6, seed=7)


def test_a_change_set_that_needs_a_rebuild_is_refused(tmp_path: Path) -> None:
    from stylegate.registry.changes import ChangeSet

    with RegistryStore.open(sqlite_url(tmp_path / "registry.db")) as store:
        view = build_view(store, None)
        with pytest.raises(ValueError):
            apply_changes(view, store, ChangeSet(0, 1, everything=True), None)


def test_set_row_keeps_ids_sorted_and_rows_aligned() -> None:
    ids, rows = np.array([2, 5], np.int64), np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    ids, rows = set_row(ids, rows, 3, np.array([0.5, 0.5]))
    assert ids.tolist() == [2, 3, 5] and rows[1].tolist() == [0.5, 0.5] and rows[2].tolist() == [0.0, 1.0]
    ids, rows = set_row(ids, rows, 2, None)
    assert ids.tolist() == [3, 5] and rows[0].tolist() == [0.5, 0.5]
    ids, rows = set_row(ids, rows, 5, np.array([1.0, 1.0]))
    assert ids.tolist() == [3, 5] and rows[1].tolist() == [1.0, 1.0]
    assert set_row(ids, rows, 9, None)[0].tolist() == [3, 5]
