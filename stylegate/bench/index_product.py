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


def bench_in_product(data: ClusteredSet, truth: np.ndarray, recall: Any) -> dict[str, Any]:
    """One row: the ``auto`` index built, saved, loaded, and the image check's index step timed."""
    import faiss

    from stylegate.governance.matching.scores import STYLE_TOP_M, match_image
    from stylegate.governance.matching.view import RegistryView, build_artist_works
    from stylegate.governance.screening.names import NameMatcher
    from stylegate.registry.style_index import AUTO_FLAT_MAX, StyleIndex

    n, dim = data.base.shape
    ident = {"model": "bench-index", "checkpoint_sha256": "-", "dim": dim}
    ids = np.arange(1, n + 1, dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="stylegate-bench-index-") as tmp:
        path = Path(tmp) / "style.faiss"
        # the product's threshold; a bench size below it (the tests') still takes the IVF path
        index = StyleIndex.create(dim, ident, f"auto:{min(AUTO_FLAT_MAX, n // 2)}")
        start = time.perf_counter()
        index.add(ids, data.base)
        index.save(path, "bench")
        build = time.perf_counter() - start
        del index
        index = StyleIndex.load(path, ident)
        work_artist = {int(w): int(a) for w, a in zip(ids, data.artist_of)}
        works = build_artist_works(work_artist, index)
        view = RegistryView({}, work_artist, NameMatcher(), index, artist_works=works)
        queries = list(data.queries)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            index.search(queries[0], K)
            search_times = time_each(lambda q: index.search(q, K), queries)
            found = np.stack([index.search(q, K)[1][0] for q in queries])
            depth = K * index._k_factor  # the IVF code scan alone, as the index runs it
            scan_times = time_each(lambda q: index._faiss_search(q.reshape(1, -1), depth), queries)
            match_image(queries[0], view, K)
            check_times = time_each(lambda q: match_image(q, view, K), queries)
            matches = [match_image(q, view, K) for q in queries]
        finally:
            faiss.omp_set_num_threads(threads)
        reference = _reference_best(data, truth, STYLE_TOP_M)
        same, diffs = 0, []
        for match, (artist, score) in zip(matches, reference):
            if not match.style:
                continue
            top = max(match.style, key=lambda s: s.score)
            same += int(top.artist_id == artist)
            if top.artist_id == artist:
                diffs.append(abs(top.score - score))
        resident = index.resident_bytes() + (works.resident_bytes() if hasattr(works, "resident_bytes") else 0)
        disk = sum(p.stat().st_size for p in Path(tmp).iterdir() if ".vectors" in p.name)
        return {
            "index": "in-product (auto)", "factory": index.factory, "params": index.search_params, "works": n,
            "build_s": round(build, 2), "memory_bytes": int(resident), "disk_rerank_bytes": int(disk),
            "recall_at_10": round(recall(found, truth), 4),
            "p50_ms": round(percentile_ms(search_times, 50), 3), "p99_ms": round(percentile_ms(search_times, 99), 3),
            "scan_p50_ms": round(percentile_ms(scan_times, 50), 3),
            "scan_p99_ms": round(percentile_ms(scan_times, 99), 3),
            "check_p50_ms": round(percentile_ms(check_times, 50), 3),
            "check_p99_ms": round(percentile_ms(check_times, 99), 3),
            "best_artist_agreement": round(same / len(queries), 4),
            "best_score_max_abs_diff": float(max(diffs)) if diffs else None,
        }
