"""`stylegate bench index`: the clustered generator, the measurements and the CLI's input checks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from stylegate.bench.clustered import clustered_set, cosine_profile
from stylegate.bench.index_scale import TARGET_SIZE, check_fits, extrapolate, run_index_scale_bench
from stylegate.errors import InputError


def test_clustered_set_is_clustered_not_uniform() -> None:
    data = clustered_set(20_000, 128, 50, seed=4)
    assert data.base.shape == (20_000, 128) and data.queries.shape == (50, 128)
    assert data.base.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(data.base, axis=1), 1.0, atol=1e-5)
    profile = cosine_profile(data)
    # uniform noise in 128-d would give ≈ 0 for both
    assert 0.65 < profile["same_artist_cosine"] < 0.85
    assert 0.2 < profile["other_artist_cosine"] < 0.4
    counts = np.bincount(data.artist_of, minlength=data.n_artists)
    assert counts.max() > 4 * np.median(counts)  # a few artists hold many works
    again = clustered_set(20_000, 128, 50, seed=4)
    assert np.array_equal(again.base, data.base)  # seeded: reproducible


def test_bench_measures_every_candidate_and_extrapolates() -> None:
    results = run_index_scale_bench([5000], n_queries=40, dim=64)
    rows = results["rows"]
    by_name = {r["index"]: r for r in rows if r["params"] == rows[1]["params"] or r["index"] == "flat"}
    assert set(by_name) == {"flat", "ivf-pq+rerank", "ivf-pq+mmap-rerank", "in-product (auto)"}
    assert by_name["flat"]["recall_at_10"] == 1.0
    assert by_name["ivf-pq+rerank"]["factory"].startswith("IDMap2,IVF")
    for r in rows:
        assert 0.0 <= r["recall_at_10"] <= 1.0 and 0 < r["p50_ms"] <= r["p99_ms"]
        assert set(r["targets_met"]) == {"recall_at_10", "p99_ms", "memory_gb"}
    # the mmap variant keeps codes in RAM and the vectors on disk
    mm = by_name["ivf-pq+mmap-rerank"]
    assert mm["memory_bytes"] < by_name["flat"]["memory_bytes"] / 4
    assert mm["disk_rerank_bytes"] == 5000 * 64 * 4
    # the product's own path: IVF codes re-ranked from the mapped file, per-artist works on demand
    prod = by_name["in-product (auto)"]
    assert prod["factory"].endswith(",RMmap") and prod["memory_bytes"] < by_name["flat"]["memory_bytes"] / 4
    assert prod["disk_rerank_bytes"] >= 5000 * 64 * 4
    assert 0 < prod["check_p50_ms"] <= prod["check_p99_ms"] and prod["check_p50_ms"] >= prod["p50_ms"]
    assert prod["best_artist_agreement"] >= 0.9 and prod["best_score_max_abs_diff"] < 1e-4
    ext = results["extrapolated"]
    assert ext and all(r["works"] == TARGET_SIZE and r["extrapolated_from"] == 5000 for r in ext)
    flat_ext = next(r for r in ext if r["index"] == "flat")
    assert flat_ext["memory_bytes"] == by_name["flat"]["memory_bytes"] * 2000
    assert "1e7" in results["formula"]


def test_only_the_chosen_candidates_are_measured() -> None:
    rows = run_index_scale_bench([3000], n_queries=20, dim=32, candidates=["in-product"])["rows"]
    assert [r["index"] for r in rows] == ["in-product (auto)"] and rows[0]["factory"].endswith(",RMmap")


def test_extrapolate_of_nothing_is_nothing() -> None:
    assert extrapolate([]) == []


def test_too_big_a_size_is_refused_with_a_reason() -> None:
    with pytest.raises(InputError, match="GB of memory"):
        check_fits(10**12, 512)


@pytest.mark.parametrize("args,needle", [(["--sizes", "ten"], "comma-separated"), (["--sizes", "10"], "between"), (["--sizes", "1000000000000"], "between"),
                                       (["--only", "flat,hnsw"], "unknown candidate")])
def test_cli_bad_sizes_exit_2(args: list[str], needle: str) -> None:
    out = subprocess.run([sys.executable, "-m", "stylegate", "bench", "index", *args], capture_output=True, text=True)
    assert out.returncode == 2 and needle in out.stderr


def test_cli_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "stylegate", "bench", "index", "--sizes", "2000", "--queries", "20", "--dim", "32", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [s["works"] for s in results["sizes"]] == [2000] and results["rows"][0]["index"] == "flat"
