"""The memory-mapped vectors file of a large style index: re-rank, withdrawal, save/load, undo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stylegate.errors import IndexMismatch
from stylegate.registry import vector_store as vs
from stylegate.registry.style_index import StyleIndex, sidecar_path

DIM = 64
IDENT = {"model": "fake", "checkpoint_sha256": "b" * 64, "dim": DIM}


def clustered(n: int, n_queries: int = 50, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    from stylegate.bench.clustered import clustered_set

    data = clustered_set(n, DIM, n_queries, works_per_artist=20, seed=seed)
    return data.base, data.queries


def mmap_index(n: int = 3000, seed: int = 5) -> tuple[StyleIndex, np.ndarray, np.ndarray]:
    base, _ = clustered(n, seed=seed)
    ids = np.arange(100, 100 + n, dtype=np.int64) * 7  # ids unlike rows, to catch a mix-up
    ix = StyleIndex.create(DIM, IDENT, factory="auto:200")
    ix.add(ids, base)
    assert ix.memory_mapped
    return ix, ids, base


def test_saved_index_reads_vectors_from_the_mapped_file(tmp_path: Path) -> None:
    ix, ids, base = mmap_index()
    path = tmp_path / "ix.faiss"
    ix.save(path, "s1")
    data = vs.vectors_path(path)
    assert data.stat().st_size == (len(ids) + 1) * DIM * 4  # a header row, then the rows
    back = StyleIndex.load(path, IDENT)
    assert isinstance(back._vectors._base, np.memmap)  # type: ignore[union-attr]
    pick = ids[[5, 0, 2999, 17]]
    np.testing.assert_array_equal(back.reconstruct(pick), base[[5, 0, 2999, 17]])
    # RAM holds codes and maps, a fraction of the vectors the file holds
    assert back.resident_bytes() < base.nbytes / 2
    # each work finds itself with its exact cosine, as the RFlat variant did
    scores, got = back.search(base[:100], 3)
    assert (got[:, 0] == ids[:100]).all()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    with pytest.raises(KeyError):
        back.reconstruct([3])


def test_withdrawal_is_remove_ids_and_survives_save_load(tmp_path: Path) -> None:
    ix, ids, base = mmap_index()
    path = tmp_path / "ix.faiss"
    ix.save(path, "s1")
    ix = StyleIndex.load(path, IDENT)
    faiss_before = ix.faiss_index
    gone = ids[::10]
    assert ix.remove(np.concatenate([gone, [1, 2]])) == gone.size
    assert ix.faiss_index is faiss_before  # removed in place, not rebuilt from the vectors
    assert len(ix) == ids.size - gone.size and int(ix.faiss_index.ntotal) == len(ix)
    own = base[::10]
    assert not np.isin(ix.search(own, 50)[1], gone).any()  # their own vectors never find them
    with pytest.raises(KeyError):
        ix.reconstruct(gone[:1])
    ix.save(path, "s2")
    back = StyleIndex.load(path, IDENT)
    assert len(back) == len(ix) and not np.isin(back.search(own, 50)[1], gone).any()
    assert set(StyleIndex.stored_ids(path).tolist()) == set(ids.tolist()) - set(gone.tolist())  # type: ignore[union-attr]
    rows = np.array([r for r in range(1, 60) if r % 10])
    assert (back.search(base[rows], 1)[1][:, 0] == ids[rows]).all()
    np.testing.assert_array_equal(back.reconstruct(ids[rows]), base[rows])


def test_many_withdrawals_compact_the_file(tmp_path: Path) -> None:
    ix, ids, base = mmap_index()
    path = tmp_path / "ix.faiss"
    ix.save(path, "s1")
    size = vs.vectors_path(path).stat().st_size
    token = json.loads(sidecar_path(path).read_text())["vectors"]["token"]
    gone = ids[: int(ids.size * 0.6)]
    ix.remove(gone)
    ix.save(path, "s2")
    meta = json.loads(sidecar_path(path).read_text())
    assert vs.vectors_path(path).stat().st_size < size * 0.5 and meta["vectors"]["token"] != token
    back = StyleIndex.load(path, IDENT)
    rest = ids[gone.size:]
    np.testing.assert_array_equal(back.reconstruct(rest), base[gone.size:])
    assert (back.search(base[gone.size:gone.size + 30], 1)[1][:, 0] == rest[:30]).all()


def test_old_sidecar_never_reads_a_compacted_or_damaged_file(tmp_path: Path) -> None:
    ix, ids, _ = mmap_index()
    path = tmp_path / "ix.faiss"
    ix.save(path, "s1")
    old = {p: p.read_bytes() for p in (path, sidecar_path(path), vs.rowmap_path(path))}
    ix.remove(ids[:2000])
    ix.save(path, "s2")  # compacts: new layout, new token
    for p, raw in old.items():  # a crash put the old index, sidecar and row map back, not the file
        p.write_bytes(raw)
    with pytest.raises(IndexMismatch, match="not the file its sidecar names"):
        StyleIndex.load(path, IDENT)
    ix.save(path, "s3")
    rows = vs.rowmap_path(path)
    rows.write_bytes(rows.read_bytes()[:-8])
    with pytest.raises(IndexMismatch, match="does not match the index sidecar"):
        StyleIndex.load(path, IDENT)


def test_restore_after_a_save_then_saving_again(tmp_path: Path) -> None:
    ix, ids, base = mmap_index()
    path = tmp_path / "ix.faiss"
    ix.save(path, "s1")
    cp = ix.checkpoint()
    extra, _ = clustered(5, seed=11)
    ix.add([1, 2, 3, 4, 5], extra)
    ix.remove(ids[:3])
    ix.save(path, "s2")  # appended to the file, then the change is undone
    ix.restore(cp)
    assert len(ix) == ids.size and 1 not in ix and int(ids[0]) in ix
    more, _ = clustered(2, seed=12)
    ix.add([8, 9], more)
    ix.save(path, "s3")
    back = StyleIndex.load(path, IDENT)
    assert len(back) == ids.size + 2 and 1 not in back
    np.testing.assert_array_equal(back.reconstruct([8, 9, int(ids[0])]), np.vstack([more, base[:1]]))
    assert (back.search(more, 1)[1][:, 0] == [8, 9]).all()


def test_view_reads_artist_works_on_demand_with_the_same_scores(tmp_path: Path) -> None:
    from stylegate.bench.clustered import clustered_set
    from stylegate.governance.matching.artist_works import OnDemandArtistWorks
    from stylegate.governance.matching.scores import match_image
    from stylegate.governance.matching.view import RegistryView, build_artist_works, build_prototypes
    from stylegate.governance.screening.names import NameMatcher

    data = clustered_set(3000, DIM, 60, works_per_artist=20, seed=8)
    ids = np.arange(1, 3001, dtype=np.int64)
    work_artist = {int(w): int(a) for w, a in zip(ids, data.artist_of)}
    flat = StyleIndex.create(DIM, IDENT, factory="auto")
    flat.add(ids, data.base)
    ivf = StyleIndex.create(DIM, IDENT, factory="auto:200")
    ivf.add(ids, data.base)
    ivf.save(tmp_path / "ix.faiss", "s")
    ivf = StyleIndex.load(tmp_path / "ix.faiss", IDENT)
    views = []
    for index in (flat, ivf):
        works = build_artist_works(work_artist, index)
        artists, protos = build_prototypes(works, DIM)
        views.append(RegistryView({}, work_artist, NameMatcher(), index, artists, protos, artist_works=works))
    assert isinstance(views[1].artist_works, OnDemandArtistWorks) and isinstance(views[0].artist_works, dict)
    np.testing.assert_allclose(views[0].prototypes, views[1].prototypes, atol=1e-6)
    for q in data.queries:
        a, b = (match_image(q, v, 10) for v in views)
        best_a = {s.artist_id: round(s.score, 5) for s in a.style}
        best_b = {s.artist_id: round(s.score, 5) for s in b.style}
        shared = set(best_a) & set(best_b)
        assert shared and all(best_a[x] == best_b[x] for x in shared)  # exact per-artist scores
        assert max(best_a, key=best_a.__getitem__) == max(best_b, key=best_b.__getitem__)


def test_recovery_puts_back_the_row_map_a_killed_save_replaced(tmp_path: Path) -> None:
    from stylegate.recovery import _restore_index_backup
    from stylegate.registry._fs import FileBackup
    from stylegate.registry.style_index import index_files

    ix, ids, base = mmap_index()
    path = tmp_path / "ix.faiss"
    ix.save(path, "snap1")
    FileBackup(index_files(path))  # what the ingest takes before it saves; the kill leaves it
    extra, _ = clustered(3, seed=13)
    ix.add([1, 2, 3], extra)
    ix._vectors.save(path)  # type: ignore[union-attr]  # killed after the row map, before the index
    with pytest.raises(IndexMismatch):
        StyleIndex.load(path, IDENT)
    assert _restore_index_backup(path, "snap1")
    back = StyleIndex.load(path, IDENT)
    assert len(back) == ids.size and 1 not in back
    np.testing.assert_array_equal(back.reconstruct(ids[:5]), base[:5])
