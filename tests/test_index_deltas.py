"""A running process's style index brought forward by the writers' deltas equals the saved file."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pytest

from stylegate.registry.index_deltas import MAX_CHAIN, catch_up, clear_deltas, delta_files, write_delta
from stylegate.registry.style_index import StyleIndex

DIM = 8
IDENT = {"model": "test", "checkpoint_sha256": "0" * 64, "dim": DIM}


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


class Writer:
    """Changes an index the way the work ingest does: change, delta, save."""

    def __init__(self, path: Path, seed: int) -> None:
        self.path = path
        self.rng = np.random.default_rng(seed)
        self.index = StyleIndex.create(DIM, IDENT, "IDMap2,Flat")
        self.next_id = 1
        self.step = 0
        self.index.add(np.arange(1, 21), _unit(self.rng, 20))
        self.next_id = 21
        self.save(None, [], [], None)

    def snapshot(self) -> str:
        self.step += 1
        return hashlib.sha256(f"{self.path}:{self.step}".encode()).hexdigest()

    def save(self, before: str | None, removed: list[int], added: list[int], vectors: np.ndarray | None) -> None:
        snap = self.snapshot()
        write_delta(self.path, self.index, before, snap, np.array(removed, np.int64), np.array(added, np.int64),
                    np.zeros((0, DIM), np.float32) if vectors is None else vectors)
        self.index.save(self.path, snap)

    def change(self, rnd: random.Random) -> None:
        before = self.index.snapshot_hash
        ids = self.index.ids().tolist()
        if ids and rnd.random() < 0.4:
            removed = rnd.sample(ids, rnd.randint(1, min(3, len(ids))))
            self.index.remove(np.array(removed, np.int64))
            self.save(before, removed, [], None)
        else:
            n = rnd.randint(1, 4)
            added = list(range(self.next_id, self.next_id + n))
            self.next_id += n
            vectors = _unit(self.rng, n)
            self.index.add(np.array(added, np.int64), vectors)
            self.save(before, [], added, vectors)


def _equal_to_file(index: StyleIndex, path: Path) -> None:
    saved = StyleIndex.load(path, IDENT)
    assert index.snapshot_hash == saved.snapshot_hash
    assert sorted(index.ids().tolist()) == sorted(saved.ids().tolist())
    ids = np.sort(saved.ids())
    np.testing.assert_array_equal(index.reconstruct(ids), saved.reconstruct(ids))
    query = _unit(np.random.default_rng(9), 5)
    np.testing.assert_array_equal(index.search(query, 4)[1], saved.search(query, 4)[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_changes_caught_up_by_deltas_equal_the_saved_index(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    writer = Writer(tmp_path / "index.faiss", seed)
    reader = StyleIndex.load(writer.path, IDENT)
    caught = 0
    for _ in range(30):
        for _ in range(rnd.randint(1, 3)):  # the reader may be several saves behind
            writer.change(rnd)
        target = StyleIndex.read_sidecar(writer.path)["snapshot_hash"]
        assert catch_up(reader, writer.path, target)
        _equal_to_file(reader, writer.path)
        caught += 1
    assert caught == 30


def test_a_missing_delta_a_cleared_folder_or_a_long_chain_answers_false(tmp_path: Path) -> None:
    rnd = random.Random(5)
    writer = Writer(tmp_path / "index.faiss", 5)
    reader = StyleIndex.load(writer.path, IDENT)
    writer.change(rnd)
    writer.change(rnd)
    target = StyleIndex.read_sidecar(writer.path)["snapshot_hash"]
    first = delta_files(writer.path)[0]
    first.unlink()  # the delta of the first of the two changes
    assert not catch_up(reader, writer.path, target)

    reader = StyleIndex.load(writer.path, IDENT)
    clear_deltas(writer.path)  # what a rebuild does
    writer.change(rnd)
    assert catch_up(reader, writer.path, StyleIndex.read_sidecar(writer.path)["snapshot_hash"])
    reader = StyleIndex.load(writer.path, IDENT)
    for _ in range(MAX_CHAIN + 1):
        writer.change(rnd)
    assert not catch_up(reader, writer.path, StyleIndex.read_sidecar(writer.path)["snapshot_hash"])
    stale = StyleIndex.load(writer.path, IDENT)
    stale.snapshot_hash = None  # an index changed in memory since it was loaded knows no snapshot
    assert not catch_up(stale, writer.path, "ab" * 32)


def test_a_delta_that_does_not_match_the_index_answers_false(tmp_path: Path) -> None:
    rnd = random.Random(7)
    writer = Writer(tmp_path / "index.faiss", 7)
    reader = StyleIndex.load(writer.path, IDENT)
    reader.add(np.array([10_000]), _unit(np.random.default_rng(1), 1))  # the reader holds a stray vector
    reader.snapshot_hash = StyleIndex.read_sidecar(writer.path)["snapshot_hash"]
    writer.change(rnd)
    assert not catch_up(reader, writer.path, StyleIndex.read_sidecar(writer.path)["snapshot_hash"])
