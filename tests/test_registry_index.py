"""Style index: search recall, removal, persistence, identity checks, other factories."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from stylegate.errors import IndexMismatch, InputError, VectorError
from stylegate.registry import style_index as si
from stylegate.registry.style_index import StyleIndex, sidecar_path

DIM = 16
IDENT = {"model": "fake", "checkpoint_sha256": "a" * 64, "dim": DIM}


def unit(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def brute_force(base: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-(q @ base.T), axis=1, kind="stable")[:, :k]
    return ids[order]


def test_add_search_matches_brute_force() -> None:
    base, q = unit(300, 1), unit(20, 2)
    ids = np.arange(300, dtype=np.int64) * 7 + 3
    ix = StyleIndex.create(DIM, IDENT)
    ix.add(ids, base)
    assert len(ix) == 300 and sorted(ix.ids().tolist()) == sorted(ids.tolist())
    scores, got = ix.search(q, 10)
    assert scores.shape == got.shape == (20, 10)
    assert np.array_equal(got, brute_force(base, ids, q, 10))
    np.testing.assert_allclose(scores[:, 0], np.max(q @ base.T, axis=1), rtol=1e-5)
    np.testing.assert_allclose(ix.reconstruct([ids[5]])[0], base[5], rtol=1e-6)
    # a single query vector is accepted as (dim,)
    assert ix.search(base[0], 1)[1][0, 0] == ids[0]


def test_empty_slots_and_empty_index() -> None:
    ix = StyleIndex.create(DIM, IDENT)
    scores, ids = ix.search(unit(2, 3), 4)
    assert (ids == -1).all() and np.isneginf(scores).all()
    ix.add([10, 11], unit(2, 4))
    scores, ids = ix.search(unit(1, 5), 4)
    assert sorted(ids[0, :2].tolist()) == [10, 11] and (ids[0, 2:] == -1).all()
    assert np.isneginf(scores[0, 2:]).all() and np.isfinite(scores[0, :2]).all()


def test_input_checks() -> None:
    ix = StyleIndex.create(DIM, IDENT)
    v = unit(3, 6)
    with pytest.raises(VectorError, match="normalised"):
        ix.add([1, 2, 3], v * 2)
    with pytest.raises(VectorError, match="floating"):
        ix.add([1, 2, 3], (v * 10).astype(np.int32))
    with pytest.raises(IndexMismatch, match="dimension"):
        ix.add([1, 2, 3], unit(3, 6, dim=DIM + 1))
    with pytest.raises(VectorError):
        ix.add([1, 2], v)
    with pytest.raises(VectorError, match="duplicate"):
        ix.add([1, 1, 2], v)
    with pytest.raises(VectorError, match="NaN"):
        ix.add([1, 2, 3], np.full_like(v, np.nan))
    with pytest.raises(VectorError):
        ix.add([-1, 2, 3], v)
    ix.add([1, 2, 3], v.astype(np.float64))  # converted to float32
    with pytest.raises(VectorError, match="already"):
        ix.add([3], unit(1, 7))
    with pytest.raises(InputError):
        ix.search(v, 0)
    with pytest.raises(KeyError):
        ix.reconstruct([99])
    with pytest.raises(InputError):
        StyleIndex.create(DIM, {"model": "x", "dim": DIM})  # checkpoint_sha256 missing
    with pytest.raises(InputError):
        StyleIndex.create(DIM, {**IDENT, "dim": 8})
    with pytest.raises(InputError, match="factory"):
        StyleIndex.create(DIM, IDENT, factory="NoSuchThing,42")


def test_remove_ids() -> None:
    base = unit(50, 8)
    ids = np.arange(100, 150, dtype=np.int64)
    ix = StyleIndex.create(DIM, IDENT)
    ix.add(ids, base)
    assert ix.remove([100, 120, 149, 999]) == 3
    assert len(ix) == 47 and 120 not in ix and 121 in ix
    keep = ~np.isin(ids, [100, 120, 149])
    q = unit(10, 9)
    assert np.array_equal(ix.search(q, 5)[1], brute_force(base[keep], ids[keep], q, 5))
    assert ix.remove([]) == 0


@pytest.mark.parametrize("factory,params", [("IVF4,Flat", "nprobe=4"), ("HNSW8", None), ("IDMap,Flat", None)])
def test_other_factories(tmp_path: Path, factory: str, params: str | None) -> None:
    base = unit(200, 10)
    ids = np.arange(1000, 1200, dtype=np.int64)
    ix = StyleIndex.create(DIM, IDENT, factory=factory, search_params=params)
    ix.add(ids, base)  # trains an IVF on this first batch
    q = base[:10]
    assert (ix.search(q, 1)[1][:, 0] == ids[:10]).all()  # each vector finds itself
    np.testing.assert_allclose(ix.reconstruct([1042])[0], base[42], rtol=1e-5)
    assert ix.remove([1000, 1100]) == 2
    assert len(ix) == 198 and 1000 not in ix
    found = ix.search(base[[1, 50, 150]], 1)[1][:, 0]
    assert found.tolist() == [1001, 1050, 1150]  # ids still map to the right vectors
    path = tmp_path / "ix.faiss"
    ix.save(path, "snap")
    back = StyleIndex.load(path, IDENT)
    assert back.factory == factory and back.search_params == params and len(back) == 198
    assert np.array_equal(back.search(q, 3)[1], ix.search(q, 3)[1])


def test_save_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "style.faiss"
    ix = StyleIndex.create(DIM, IDENT)
    ix.add([5, 6, 7], unit(3, 11))
    ix.save(path, "abc123")
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["factory"] == "IDMap2,Flat" and meta["dim"] == DIM and meta["count"] == 3
    assert meta["embedder"] == IDENT and meta["snapshot_hash"] == "abc123"
    assert meta["format_version"] == si.FORMAT_VERSION and meta["saved_at"]
    back = StyleIndex.load(path, dict(IDENT))
    assert back.snapshot_hash == "abc123" and back.identity == IDENT
    assert sorted(back.ids().tolist()) == [5, 6, 7]
    np.testing.assert_array_equal(back.reconstruct([6]), ix.reconstruct([6]))
    assert StyleIndex.exists(path) and not StyleIndex.exists(tmp_path / "nope")
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_mismatched_identity_refused(tmp_path: Path) -> None:
    path = tmp_path / "style.faiss"
    StyleIndex.create(DIM, IDENT).save(path, None)
    for other in (
        {**IDENT, "model": "ViT-L-14"},
        {**IDENT, "checkpoint_sha256": "b" * 64},
        {**IDENT, "dim": 32},
    ):
        with pytest.raises(IndexMismatch, match="another embedder"):
            StyleIndex.load(path, other)


def test_corrupt_or_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "style.faiss"
    with pytest.raises(IndexMismatch, match="missing"):
        StyleIndex.load(path, IDENT)
    ix = StyleIndex.create(DIM, IDENT)
    ix.add([1, 2], unit(2, 12))
    ix.save(path, "s")
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(IndexMismatch, match="damaged"):
        StyleIndex.load(path, IDENT)
    # garbage that matches its (forged) sidecar hash is still refused as corrupt
    garbage = b"\x00garbage" * 10
    meta = json.loads(sidecar_path(path).read_text())
    meta["index_sha256"] = hashlib.sha256(garbage).hexdigest()
    path.write_bytes(garbage)
    sidecar_path(path).write_text(json.dumps(meta))
    with pytest.raises(IndexMismatch, match="corrupt"):
        StyleIndex.load(path, IDENT)
    sidecar_path(path).write_text("{not json")
    with pytest.raises(IndexMismatch, match="unreadable"):
        StyleIndex.load(path, IDENT)
    path.write_bytes(good)
    sidecar_path(path).unlink()
    with pytest.raises(IndexMismatch, match="sidecar"):
        StyleIndex.load(path, IDENT)


def test_atomic_save_keeps_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "style.faiss"
    ix = StyleIndex.create(DIM, IDENT)
    ix.add([1], unit(1, 13))
    ix.save(path, "old")
    before = (path.read_bytes(), sidecar_path(path).read_bytes())
    ix.add([2], unit(1, 14))

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        ix.save(path, "new")
    monkeypatch.undo()
    assert (path.read_bytes(), sidecar_path(path).read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["style.faiss", "style.faiss.json"]  # no temp left
    assert len(StyleIndex.load(path, IDENT)) == 1


def test_checkpoint_restore() -> None:
    ix = StyleIndex.create(DIM, IDENT)
    ix.add([1, 2], unit(2, 15))
    cp = ix.checkpoint()
    ix.add([3], unit(1, 16))
    ix.remove([1])
    ix.restore(cp)
    assert sorted(ix.ids().tolist()) == [1, 2]


# -- index chosen by size (index_factory = auto) ------------------------------------------

def clustered(n: int, n_queries: int, dim: int = 64, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    from stylegate.bench.clustered import clustered_set

    data = clustered_set(n, dim, n_queries, works_per_artist=20, seed=seed)
    return data.base, data.queries


AUTO_IDENT = {"model": "fake", "checkpoint_sha256": "a" * 64, "dim": 64}


def test_auto_small_registry_builds_flat(tmp_path: Path) -> None:
    ix = StyleIndex.create(DIM, IDENT, factory="auto")
    ix.add(np.arange(1, 301), unit(300, 20))
    assert ix.factory == "IDMap2,Flat" and ix.setting == "auto"
    ix.save(tmp_path / "ix.faiss", "s")
    meta = json.loads(sidecar_path(tmp_path / "ix.faiss").read_text())
    assert meta["factory"] == "IDMap2,Flat" and meta["factory_setting"] == "auto"
    assert si.parse_auto("auto") == si.AUTO_FLAT_MAX and si.parse_auto("auto:7") == 7
    assert si.parse_auto("IDMap2,Flat") is None
    with pytest.raises(InputError, match="auto:N"):
        StyleIndex.create(DIM, IDENT, factory="auto:lots")


@pytest.mark.parametrize("setting", ["auto:500", "ram-rerank"])
def test_auto_above_threshold_builds_ivf_pq_with_exact_rerank(tmp_path: Path, setting: str) -> None:
    base, queries = clustered(3000, 100)
    ids = np.arange(10, 3010, dtype=np.int64)
    factory = setting if setting.startswith("auto") else si.scaled_factory(3000, 64)[0]
    params = None if setting.startswith("auto") else si.scaled_factory(3000, 64)[1]
    ix = StyleIndex.create(64, AUTO_IDENT, factory=factory, search_params=params)
    ix.add(ids, base)  # 3000 > 500: chooses and trains the IVF variant on this batch
    if setting.startswith("auto"):  # auto re-ranks from the memory-mapped vectors file
        assert ix.factory.startswith("IVF") and "_HNSW32," in ix.factory and ix.factory.endswith(",RMmap")
        assert ix.memory_mapped
    else:
        assert ix.factory.startswith("IDMap2,IVF") and ix.factory.endswith(",RFlat") and not ix.memory_mapped
    assert ix.is_trained and ix.search_params and "nprobe=" in ix.search_params
    truth = brute_force(base, ids, queries, 1)[:, 0]
    scores, got = ix.search(queries, 1)
    assert np.mean(got[:, 0] == truth) >= 0.97  # approximate, but re-ranked exactly
    hit = got[:, 0] == truth
    np.testing.assert_allclose(scores[hit, 0], np.max(queries @ base.T, axis=1)[hit], rtol=1e-5)
    assert (ix.search(base[:50], 1)[1][:, 0] == ids[:50]).all()  # each work finds itself
    np.testing.assert_allclose(ix.reconstruct([ids[7]])[0], base[7], rtol=1e-6)  # exact vectors kept

    path = tmp_path / "ix.faiss"
    ix.save(path, "snap")
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["factory"] == ix.factory and meta["factory_setting"] == factory
    back = StyleIndex.load(path, AUTO_IDENT)
    assert back.memory_mapped == ix.memory_mapped
    assert back.factory == ix.factory and back.search_params == ix.search_params
    assert np.array_equal(back.search(queries, 5)[1], ix.search(queries, 5)[1])

    # withdrawing works: gone from results, the other ids still map to their vectors
    gone = ids[[0, 1, 2]]
    assert back.remove(gone) == 3 and len(back) == 2997 and int(gone[0]) not in back
    found = back.search(base[:3], 10)[1]
    assert not np.isin(found, gone).any()
    assert (back.search(base[3:40], 1)[1][:, 0] == ids[3:40]).all()
    back.save(path, "snap2")
    again = StyleIndex.load(path, AUTO_IDENT)
    assert len(again) == 2997 and again.factory == ix.factory

    # a loaded index keeps its factory when it grows; only a rebuild chooses again
    again.add([99_999], clustered(1, 1, seed=9)[0])
    assert again.factory == ix.factory and len(again) == 2998


def test_auto_choice_is_undone_by_restore() -> None:
    base, _ = clustered(1200, 1)
    ix = StyleIndex.create(64, AUTO_IDENT, factory="auto:100")
    cp = ix.checkpoint()
    ix.add(np.arange(1, 1201), base)
    assert "IVF" in ix.factory
    ix.restore(cp)
    assert ix.factory == "IDMap2,Flat" and len(ix) == 0
    ix.add([1, 2], base[:2])  # below the threshold after the undo: Flat
    assert ix.factory == "IDMap2,Flat"
