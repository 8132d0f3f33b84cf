"""The style index as the product runs it above the Flat threshold, for `stylegate bench index`.

``index_factory = auto`` builds IVF-PQ codes re-ranked from the memory-mapped vectors file
(:mod:`stylegate.registry.vector_store`); the registry view then reads each candidate artist's
works from that file on demand (:class:`OnDemandArtistWorks`). This measures that path end to
end on the bench's data: the index saved and loaded again (so the vectors are mapped, not the
copy that was added), RAM resident (FAISS bytes, row maps, per-artist work id lists; the
mapped file is not counted, the page cache holds what the queries touch), and single-query
p50/p99 of the image check's index + scoring step (:func:`match_image`: search k=10, then each
candidate artist scored exactly from its works). The decision cost is measured against the
in-RAM exact path (Flat neighbours, every candidate artist scored from vectors in RAM): how
often the best-scoring artist is the same, and the largest difference in its score.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from stylegate.bench.clustered import ClusteredSet
from stylegate.bench.timing import percentile_ms, time_each

K = 10


def _reference_best(data: ClusteredSet, truth: np.ndarray, top_m: int) -> list[tuple[int, float]]:
    """Best artist and its score per query on the in-RAM exact path (Flat neighbours)."""
    order = np.argsort(data.artist_of, kind="stable")
    artists, starts = np.unique(data.artist_of[order], return_index=True)
    bounds = dict(zip(artists.tolist(), zip(starts.tolist(), [*starts[1:].tolist(), len(order)])))
    out = []
    for q, found in zip(data.queries, truth):
        best = (-1, -np.inf)
        for artist in dict.fromkeys(int(data.artist_of[i - 1]) for i in found if i > 0):
            lo, hi = bounds[artist]
            sims = data.base[order[lo:hi]] @ q
            score = float(np.sort(sims)[::-1][:top_m].mean())
            if score > best[1]:
                best = (artist, score)
        out.append(best)
    return out


STAGES = ("quantiser", "code_scan", "rerank_read", "rerank_score", "artist_read", "artist_score")


def _drop_page_cache(path: Path) -> bool:
    """Ask the kernel to drop the file's cached pages (clean, unmapped ones): a cold start."""
    import os

    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _stage_profile(index: Any, works: Any, work_artist: dict[int, int], queries: list[np.ndarray]) -> dict[str, Any]:
    """Wall and thread-CPU p50/p99 of each step of the image check's index + scoring path, as
    :func:`match_image` runs it (the same calls, timed one by one): the HNSW coarse quantiser,
    the IVF-PQ code scan (which repeats the quantiser), the re-rank's row reads from the mapped
    file and its exact scores, the candidate artists' works (one batched read) and their scores."""
    import faiss

    from stylegate.governance.matching.scores import STYLE_TOP_M

    ivf = faiss.extract_index_ivf(index.faiss_index)
    depth = K * index._k_factor
    wall: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    cpu: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    rows: list[int] = []

    def lap(name: str, a: tuple[float, float], b: tuple[float, float]) -> None:
        wall[name].append(b[0] - a[0])
        cpu[name].append(b[1] - a[1])

    for q in queries:
        q1 = q.reshape(1, -1)
        t0 = a = _clocks()
        ivf.quantizer.search(q1, ivf.nprobe)
        b = _clocks()
        lap("quantiser", a, b)
        _, cand = index._faiss_search(q1, depth)
        c = _clocks()
        lap("code_scan", b, c)
        ids = cand[0][cand[0] >= 0].astype(np.int64)
        vectors = index._vectors.get(ids)
        d = _clocks()
        lap("rerank_read", c, d)
        exact = vectors @ q
        top = ids[np.argsort(-exact, kind="stable")[:K]]
        e = _clocks()
        lap("rerank_score", d, e)
        fetched = works.many(list(dict.fromkeys(work_artist[int(w)] for w in top)))
        f = _clocks()
        lap("artist_read", e, f)
        for _, vecs in fetched.values():
            sims = vecs @ q
            float(sims[np.argsort(-sims)[:STYLE_TOP_M]].mean())
        g = _clocks()
        lap("artist_score", f, g)
        lap("total", t0, g)
        rows.append(sum(v.shape[0] for _, v in fetched.values()))
    out: dict[str, Any] = {s: {"wall_p50_ms": round(percentile_ms(wall[s], 50), 3),
                               "wall_p99_ms": round(percentile_ms(wall[s], 99), 3),
                               "cpu_p50_ms": round(percentile_ms(cpu[s], 50), 3),
                               "cpu_p99_ms": round(percentile_ms(cpu[s], 99), 3)} for s in wall}
    out["artist_rows_p50"] = float(np.percentile(rows, 50))
    out["artist_rows_p99"] = float(np.percentile(rows, 99))
    return out


def _timed_checks(fn: Any, queries: list[np.ndarray]) -> tuple[list[float], list[float], list[Any]]:
    walls, cpus, out = [], [], []
    for q in queries:
        a = _clocks()
        out.append(fn(q))
        b = _clocks()
        walls.append(b[0] - a[0])
        cpus.append(b[1] - a[1])
    return walls, cpus, out


def _agreement(matches: list[Any], reference: list[tuple[int, float]]) -> tuple[int, float | None]:
    same, diffs = 0, []
    for match, (artist, score) in zip(matches, reference):
        if not match.style:
            continue
        top = max(match.style, key=lambda s: s.score)
        same += int(top.artist_id == artist)
        if top.artist_id == artist:
            diffs.append(abs(top.score - score))
    return same, (float(max(diffs)) if diffs else None)


def bench_in_product(data: ClusteredSet, truth: np.ndarray, recall: Any, *, norms: bool = True,
                     keep: Path | None = None, seed: int = 0) -> dict[str, Any]:
    """One row: the ``auto`` index built, saved, loaded, and the image check's index step timed
    (cold page cache first, then warm), stage by stage; the pooled variant; the sampled norms.

    ``keep``: a folder where the built index is kept (``in-product-<n>x<dim>-seed<seed>``) and
    loaded from by a later run of the same size, dimension and seed instead of building it
    again (10^6 works take 5–10 minutes to build here); the search parameters are today's
    :func:`scaled_factory` choice either way, the build time the one recorded when it was built.
    """
    import json

    import faiss

    from stylegate.bench.index_norms import sampled_build
    from stylegate.errors import StylegateError
    from stylegate.governance.matching.artist_works import OnDemandArtistWorks
    from stylegate.governance.matching.scores import STYLE_TOP_M, match_image
    from stylegate.governance.matching.view import RegistryView, build_artist_works
    from stylegate.governance.screening.names import NameMatcher
    from stylegate.registry.style_index import AUTO_FLAT_MAX, StyleIndex, scaled_factory
    from stylegate.registry.vector_store import vectors_path

    n, dim = data.base.shape
    ident = {"model": "bench-index", "checkpoint_sha256": "-", "dim": dim}
    ids = np.arange(1, n + 1, dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="stylegate-bench-index-") as tmp:
        folder = Path(tmp) if keep is None else Path(keep) / f"in-product-{n}x{dim}-seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "style.faiss"
        record = folder / "build.json"
        if keep is not None and StyleIndex.exists(path) and record.is_file():
            build = float(json.loads(record.read_text())["build_s"])
        else:
            # the product's threshold; a bench size below it (the tests') still takes the IVF path
            index = StyleIndex.create(dim, ident, f"auto:{min(AUTO_FLAT_MAX, n // 2)}")
            start = time.perf_counter()
            index.add(ids, data.base)
            index.save(path, "bench")
            build = time.perf_counter() - start
            record.write_text(json.dumps({"build_s": build}))
            del index
        cold = _drop_page_cache(vectors_path(path))
        index = StyleIndex.load(path, ident)
        params = scaled_factory(n, dim, mmap=True)[1]
        if index.factory.endswith(",RMmap") and index.search_params != params:
            index.search_params = params
            index._apply_params(params)
        work_artist = {int(w): int(a) for w, a in zip(ids, data.artist_of)}
        works = build_artist_works(work_artist, index)
        if not isinstance(works, OnDemandArtistWorks):  # the threshold above always takes the mmap path
            raise StylegateError(f"the in-product index {index.factory!r} is not memory-mapped")
        view = RegistryView({}, work_artist, NameMatcher(), index, artist_works=works)
        queries = list(data.queries)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            stages_cold = _stage_profile(index, works, work_artist, queries)
            stages = _stage_profile(index, works, work_artist, queries)
            search_times = time_each(lambda q: index.search(q, K), queries)
            found = np.stack([index.search(q, K)[1][0] for q in queries])
            check_times, check_cpu, matches = _timed_checks(lambda q: match_image(q, view, K), queries)
            works.reads = works.rows_read = 0
            pooled_times, pooled_cpu, pooled = _timed_checks(lambda q: match_image(q, view, K, pooled=True), queries)
            pooled_rows = works.rows_read
        finally:
            faiss.omp_set_num_threads(threads)
        # the product's own threading: FAISS left at the run's thread count, one per single query
        toggled_times, _, _ = _timed_checks(lambda q: match_image(q, view, K), queries)
        reference = _reference_best(data, truth, STYLE_TOP_M)
        same, max_diff = _agreement(matches, reference)
        pooled_same, pooled_diff = _agreement(pooled, reference)
        resident = index.resident_bytes() + (works.resident_bytes() if hasattr(works, "resident_bytes") else 0)
        disk = sum(p.stat().st_size for p in folder.iterdir() if ".vectors" in p.name)
        row = {
            "index": "in-product (auto)", "factory": index.factory, "params": index.search_params, "works": n,
            "dim": dim, "build_s": round(build, 2), "memory_bytes": int(resident), "disk_rerank_bytes": int(disk),
            "recall_at_10": round(recall(found, truth), 4),
            "p50_ms": round(percentile_ms(search_times, 50), 3), "p99_ms": round(percentile_ms(search_times, 99), 3),
            "scan_p50_ms": stages["code_scan"]["wall_p50_ms"], "scan_p99_ms": stages["code_scan"]["wall_p99_ms"],
            "check_p50_ms": round(percentile_ms(check_times, 50), 3),
            "check_p99_ms": round(percentile_ms(check_times, 99), 3),
            "check_cpu_p50_ms": round(percentile_ms(check_cpu, 50), 3),
            "check_cpu_p99_ms": round(percentile_ms(check_cpu, 99), 3),
            "check_threads_toggled_p99_ms": round(percentile_ms(toggled_times, 99), 3),
            "stages": stages, "stages_cold": stages_cold if cold else None,
            "best_artist_agreement": round(same / len(queries), 4),
            "best_score_max_abs_diff": max_diff,
            "pooled": {"check_p50_ms": round(percentile_ms(pooled_times, 50), 3),
                       "check_p99_ms": round(percentile_ms(pooled_times, 99), 3),
                       "check_cpu_p99_ms": round(percentile_ms(pooled_cpu, 99), 3),
                       "artist_rows_per_check": round(pooled_rows / len(queries), 1),
                       "best_artist_agreement": round(pooled_same / len(queries), 4),
                       "best_score_max_abs_diff": pooled_diff},
        }
        if norms:
            row.update(sampled_build(works, dim))
        return row
