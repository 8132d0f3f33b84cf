"""`stylegate bench index`: the style index at 10^5–10^7 clustered synthetic works.

For each size and candidate index: build (train + add) time, index memory (the serialised
bytes, what the index file holds and what loading it takes), recall@10 against exact
search, and single-query p50/p99 (one query at a time, one thread, as the image check
searches). Candidates:

* ``flat``: ``IDMap2,Flat``, exact; the ground truth.
* ``ivf-pq+rerank``: what ``index_factory = auto`` builds above its threshold
  (:func:`stylegate.registry.style_index.scaled_factory`): IVF with an HNSW coarse
  quantiser, PQ codes, and an exact re-rank of k_factor·k candidates from the original
  vectors kept in RAM (``RFlat``).
* ``ivf-pq+mmap-rerank``: the same trained IVF-PQ codes, with the re-rank reading the
  original vectors from a memory-mapped file on disk: RAM holds only codes and ids.
* ``in-product (auto)``: the style index as ``index_factory = auto`` builds it (the mmap
  re-rank inside :class:`StyleIndex`, saved and loaded) and the image check's index +
  scoring step over it, per-artist works read on demand (:mod:`.index_product`).

Figures are printed, never asserted. Sizes that do not fit this machine are extrapolated by
the formulas in :func:`extrapolate`, printed with the result.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stylegate.bench.clustered import ClusteredSet, clustered_set, cosine_profile
from stylegate.bench.timing import percentile_ms, time_each

log = logging.getLogger(__name__)

K = 10
TARGETS = {"recall_at_10": 0.95, "p99_ms": 20.0, "memory_gb": 4.0}
TARGET_SIZE = 10_000_000
IDENT = {"model": "bench-index", "checkpoint_sha256": "-", "dim": 512}


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth)]))


def _single_queries(search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    search(queries[0])  # warm up
    rows = list(queries)
    times = time_each(search, rows)
    found = np.stack([search(q) for q in rows])
    return found, times


def _row(name: str, factory: str, n: int, build_s: float, memory: int, disk: int, found: np.ndarray,
         truth: np.ndarray, times: list[float], params: str | None) -> dict[str, Any]:
    return {
        "index": name, "factory": factory, "params": params, "works": n,
        "build_s": round(build_s, 2), "memory_bytes": memory, "disk_rerank_bytes": disk,
        "recall_at_10": round(_recall(found, truth), 4),
        "p50_ms": round(percentile_ms(times, 50), 3), "p99_ms": round(percentile_ms(times, 99), 3),
    }


CANDIDATES = ("flat", "ivf-pq+rerank", "ivf-pq+mmap-rerank", "in-product")


def bench_size(data: ClusteredSet, *, sweep: bool = True, candidates: Sequence[str] = CANDIDATES,
               keep: Path | None = None, seed: int = 0, norms: bool = True) -> list[dict[str, Any]]:
    """The candidates on one data set; the Flat index's answers are the truth (always built)."""
    import faiss

    from stylegate.registry.style_index import StyleIndex

    n, dim = data.base.shape
    ident = {**IDENT, "dim": dim}
    ids = np.arange(1, n + 1, dtype=np.int64)
    rows: list[dict[str, Any]] = []

    flat = StyleIndex.create(dim, ident, "IDMap2,Flat")
    start = time.perf_counter()
    flat.add(ids, data.base)
    build = time.perf_counter() - start
    truth = flat.search(data.queries, K)[1]
    if "flat" in candidates:
        found, times = _single_queries(_top_k(flat), data.queries)
        rows.append(_row("flat", flat.factory, n, build, len(faiss.serialize_index(flat.faiss_index)), 0, found, truth,
                         times, None))
    del flat
    if "ivf-pq+rerank" in candidates or "ivf-pq+mmap-rerank" in candidates:
        rows.extend(_ram_rerank_rows(data, truth, ids, sweep, "ivf-pq+mmap-rerank" in candidates))
    if "in-product" in candidates:
        from stylegate.bench.index_product import bench_in_product

        rows.append(bench_in_product(data, truth, _recall, keep=keep, seed=seed, norms=norms))
    return rows


def _ram_rerank_rows(data: ClusteredSet, truth: np.ndarray, ids: np.ndarray, sweep: bool,
                     with_mmap: bool) -> list[dict[str, Any]]:
    """The RFlat (vectors in RAM) index and its sweep, and the same codes re-ranked from a file."""
    import faiss

    from stylegate.registry.style_index import StyleIndex, scaled_factory

    n, dim = data.base.shape
    ident = {**IDENT, "dim": dim}
    rows: list[dict[str, Any]] = []

    factory, params = scaled_factory(n, dim)
    ivf = StyleIndex.create(dim, ident, factory, search_params=params)
    start = time.perf_counter()
    ivf.add(ids, data.base)
    build = time.perf_counter() - start
    found, times = _single_queries(_top_k(ivf), data.queries)
    memory = len(faiss.serialize_index(ivf.faiss_index))
    rows.append(_row("ivf-pq+rerank", factory, n, build, memory, 0, found, truth, times, params))
    if sweep:
        for alt in _sweep(params):
            tuned = StyleIndex(ivf.faiss_index, factory=factory, identity=ident, search_params=alt)
            found, times = _single_queries(_top_k(tuned), data.queries)
            rows.append(_row("ivf-pq+rerank", factory, n, build, memory, 0, found, truth, times, alt))

    if with_mmap:
        rows.append(_mmap_rerank(ivf.faiss_index, data, truth, build, params))
    return rows


def _top_k(index: Any) -> Callable[[np.ndarray], np.ndarray]:
    """One query through the style index's own search (validation and threading included)."""
    def search(q: np.ndarray) -> np.ndarray:
        ids: np.ndarray = index.search(q, K)[1][0]
        return ids
    return search


def _sweep(params: str) -> list[str]:
    """The default search parameters with nprobe halved and doubled, and a deeper re-rank."""
    kv = dict(p.split("=") for p in params.split(","))
    nprobe = int(kv["nprobe"])
    out = []
    for probe, kf in ((max(1, nprobe // 2), 32), (nprobe, 16), (nprobe * 2, 64)):
        alt = {**kv, "nprobe": str(probe), "quantizer_efSearch": str(max(64, 2 * probe)), "k_factor_rf": str(kf)}
        out.append(",".join(f"{k}={v}" for k, v in alt.items()))
    return out


def _mmap_rerank(idmap: Any, data: ClusteredSet, truth: np.ndarray, build: float, params: str) -> dict[str, Any]:
    """IVF-PQ codes in RAM; the exact re-rank reads the vectors from a memory-mapped file."""
    import faiss

    refine: Any = faiss.downcast_index(idmap.index)
    codes: Any = faiss.downcast_index(refine.base_index)  # IVF-PQ; its ids are insertion rows
    kv = dict(p.split("=") for p in params.split(","))
    faiss.ParameterSpace().set_index_parameters(codes, f"nprobe={kv['nprobe']},quantizer_efSearch={kv['quantizer_efSearch']}")  # type: ignore[arg-type]
    k_factor = int(kv["k_factor_rf"])
    id_map = faiss.vector_to_array(idmap.id_map)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vectors.f32"
        data.base.tofile(path)
        vectors = np.memmap(path, dtype=np.float32, mode="r", shape=data.base.shape)

        def search(q: np.ndarray) -> np.ndarray:
            _, cand = codes.search(q.reshape(1, -1), K * k_factor)
            cand = cand[0][cand[0] >= 0]
            scores = vectors[np.sort(cand)] @ q
            best = np.sort(cand)[np.argsort(-scores)[:K]]
            return id_map[best]

        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            found, times = _single_queries(search, data.queries)
        finally:
            faiss.omp_set_num_threads(threads)
        memory = len(faiss.serialize_index(codes)) + id_map.nbytes
        return _row("ivf-pq+mmap-rerank", f"{refine.base_index.__class__.__name__} codes + mmap", data.base.shape[0],
                    build, memory, int(path.stat().st_size), found, truth, times, params)


def extrapolate(rows: Sequence[dict[str, Any]], target: int = TARGET_SIZE) -> list[dict[str, Any]]:
    """Figures at ``target`` works from the largest measured size, by these formulas.

    memory: flat and RFlat grow with n (n·dim·4 bytes of vectors, plus PQ codes and ids);
    the mmap variant keeps n·(m + 8) bytes of codes and ids plus 8 bytes of id map in RAM.
    So memory(target) = memory(n) · target / n for every candidate (the quantiser's
    nlist·dim·4 bytes grows with √n and is ignored: it is under 0.1 % of the total).
    latency: flat scans every vector, so p(target) = p(n) · target / n. The IVF variants
    scan nprobe/nlist of the codes, a fixed fraction by :func:`scaled_factory`, so the code
    scan grows with n too, while the re-rank (k·k_factor vectors) does not: an upper bound
    is again p(target) ≤ p(n) · target / n. recall is assumed unchanged (the same fraction
    of lists probed, the same re-rank depth): an assumption, not a measurement.
    """
    if not rows:
        return []
    largest = max(r["works"] for r in rows)
    scale = target / largest
    out = []
    for r in rows:
        if r["works"] != largest:
            continue
        out.append({
            **r, "works": target, "extrapolated_from": largest,
            "memory_bytes": int(r["memory_bytes"] * scale), "disk_rerank_bytes": int(r["disk_rerank_bytes"] * scale),
            "p50_ms": round(r["p50_ms"] * scale, 3), "p99_ms": round(r["p99_ms"] * scale, 3), "build_s": round(r["build_s"] * scale, 1),
            **_check_estimate(r, scale),
        })
    return out


def _check_estimate(r: dict[str, Any], scale: float) -> dict[str, Any]:
    """The image check step at the target size, stage by stage when the row has its stage
    timings (:func:`stage_estimate`), else: the code scan grows with n, the rest does not."""
    if r.get("stages"):
        return stage_estimate(r, int(round(r["works"] * scale)))
    out: dict[str, Any] = {}
    for pct in ("p50", "p99"):
        check, scan = r.get(f"check_{pct}_ms"), r.get(f"scan_{pct}_ms")
        if check is None or scan is None:
            continue
        out[f"scan_{pct}_ms"] = round(scan * scale, 3)
        out[f"check_{pct}_ms"] = round(scan * scale + max(check - scan, 0.0), 3)
        out[f"check_{pct}_bound_ms"] = round(check * scale, 3)
    return out


def ivf_params(factory: str, params: str | None) -> dict[str, int]:
    """nlist, nprobe, quantiser efSearch and re-rank depth of an IVF factory and its parameters."""
    import re

    from stylegate.registry.style_index import DEFAULT_K_FACTOR

    found = re.search(r"IVF(\d+)", factory)
    kv = dict(p.split("=", 1) for p in (params or "").split(",") if "=" in p)
    nlist = int(found.group(1)) if found else 1
    return {"nlist": nlist, "nprobe": int(kv.get("nprobe", 1)),
            "ef": int(kv.get("quantizer_efSearch", 16)), "k_factor": int(kv.get("k_factor_rf", DEFAULT_K_FACTOR))}


STAGE_FORMULA = (
    "check(N) = quantiser(n)·[log2 nlist(N)·ef(N)]/[log2 nlist(n)·ef(n)] "
    "+ (code scan − quantiser)(n)·[nprobe(N)·N/nlist(N)]/[nprobe(n)·n/nlist(n)] "
    "+ re-rank(n)·k_factor(N)/k_factor(n) + candidate artists' works(n) + rest(n), per percentile of each "
    "stage's thread CPU time (their sum bounds the percentile of the whole), with nlist/nprobe/k_factor as "
    "scaled_factory chooses them at N, rows in the page cache; loaded: + the wall − CPU p99 measured at n"
)


def stage_estimate(r: dict[str, Any], target: int) -> dict[str, Any]:
    """The in-product check at ``target`` works from its measured stages (:data:`STAGE_FORMULA`).

    The HNSW coarse quantiser costs about efSearch · log nlist; the code scan reads
    nprobe lists of n/nlist codes; the re-rank reads k·k_factor rows and the candidate
    artists' works are ~40 rows each, neither grows with n; "rest" (Python, the view) is
    check − the stages, constant. The parameters at ``target`` are the ones the product
    picks (:func:`scaled_factory`). Each stage's thread CPU time is scaled (what the check
    costs a core; a single-threaded check on an idle core takes about that in wall time), and
    the scheduling delay this machine's load added at ``n`` (wall p99 − CPU p99) is carried
    over separately (``check_p99_loaded_ms``). It assumes the page cache holds the rows the
    checks touch (the vectors file at 10^7 is 20 GB).
    """
    from stylegate.registry.style_index import scaled_factory

    n = int(r["works"])
    at_n = ivf_params(r["factory"], r["params"])
    dim = int(r.get("dim", 512))
    factory_t, params_t = scaled_factory(target, dim, mmap=True)
    at_t = ivf_params(factory_t, params_t)
    q_scale = (np.log2(at_t["nlist"]) * at_t["ef"]) / (np.log2(at_n["nlist"]) * at_n["ef"])
    s_scale = (at_t["nprobe"] * target / at_t["nlist"]) / (at_n["nprobe"] * n / at_n["nlist"])
    r_scale = at_t["k_factor"] / at_n["k_factor"]
    st = r["stages"]
    out: dict[str, Any] = {"target_factory": factory_t, "target_params": params_t,
                           "scales": {"quantiser": round(float(q_scale), 3), "code_scan": round(float(s_scale), 3),
                                      "rerank": round(float(r_scale), 3), "artists": 1.0}}
    for pct in ("p50", "p99"):
        col = f"cpu_{pct}_ms"
        quant = st["quantiser"][col]
        scan = max(st["code_scan"][col] - quant, 0.0)
        rerank = st["rerank_read"][col] + st["rerank_score"][col]
        artists = st["artist_read"][col] + st["artist_score"][col]
        rest = max((r.get(f"check_cpu_{pct}_ms") or 0.0) - st["total"][col], 0.0)
        est = quant * q_scale + scan * s_scale + rerank * r_scale + artists + rest
        out[f"check_{pct}_ms"] = round(float(est), 3)
        out[f"check_{pct}_parts_ms"] = {
            "quantiser": round(float(quant * q_scale), 3), "code_scan": round(float(scan * s_scale), 3),
            "rerank": round(float(rerank * r_scale), 3), "artists": round(artists, 3), "rest": round(rest, 3)}
    # what this machine's load added to the measured p99 (wall − CPU), carried over as it was
    delay = max(float(r.get("check_p99_ms", 0.0)) - float(r.get("check_cpu_p99_ms", 0.0)), 0.0)
    out["scheduling_delay_p99_ms"] = round(delay, 3)
    out["check_p99_loaded_ms"] = round(out["check_p99_ms"] + delay, 3)
    out["scan_p50_ms"] = round(float(r["scan_p50_ms"] * s_scale), 3)
    out["scan_p99_ms"] = round(float(r["scan_p99_ms"] * s_scale), 3)
    return out


def targets_met(row: dict[str, Any]) -> dict[str, bool]:
    """The in-product row is judged on the image check's whole index + scoring step."""
    return {
        "recall_at_10": row["recall_at_10"] >= TARGETS["recall_at_10"],
        "p99_ms": row.get("check_p99_ms", row["p99_ms"]) <= TARGETS["p99_ms"],
        "memory_gb": row["memory_bytes"] / 1e9 <= TARGETS["memory_gb"],
    }


def run_index_scale_bench(sizes: Sequence[int], n_queries: int = 200, dim: int = 512, seed: int = 0,
                          threads: int = 1, progress: Callable[[str], None] | None = None,
                          candidates: Sequence[str] = CANDIDATES, norm_check: int = 0,
                          keep: Path | None = None, norms: bool = True) -> dict[str, Any]:
    """Measure every candidate at each size; extrapolate to 10^7 when it was not measured.

    ``norm_check`` (works; 0: none): compare the sampled style norms with the exact ones on
    that many works of the first size's data (:func:`.index_norms.compare_norms`).
    """
    import faiss

    from stylegate.bench.index_norms import compare_norms

    faiss.omp_set_num_threads(max(1, threads))
    results: dict[str, Any] = {"dim": dim, "queries": n_queries, "k": K, "threads": threads, "targets": TARGETS,
                               "sizes": [], "rows": []}
    for n in sizes:
        if progress:
            progress(f"generating {n:,} clustered works")
        data = clustered_set(n, dim, n_queries, seed=seed)
        results["sizes"].append({"works": n, "artists": data.n_artists, **cosine_profile(data)})
        if progress:
            progress(f"measuring {n:,} works")
        if norm_check and not results.get("norm_checks"):
            results["norm_checks"] = [compare_norms(data, norm_check)]
        results["rows"].extend(bench_size(data, candidates=candidates, keep=keep, seed=seed, norms=norms))
        del data
    if TARGET_SIZE not in sizes:
        results["extrapolated"] = extrapolate(results["rows"])
        results["formula"] = ("memory(1e7) = memory(n)·1e7/n; p(1e7) ≤ p(n)·1e7/n (flat and the IVF code scan "
                              "grow with n, the re-rank does not); recall assumed unchanged")
        results["check_formula"] = STAGE_FORMULA
    for r in results["rows"] + results.get("extrapolated", []):
        r["targets_met"] = targets_met(r)
    return results


def print_index_scale(results: dict[str, Any]) -> None:
    from stylegate.output import table

    for s in results["sizes"]:
        print(f"{s['works']:,} works of {s['artists']:,} artists: same-artist cosine {s['same_artist_cosine']}, "
              f"other-artist cosine {s['other_artist_cosine']}")

    def fmt(r: dict[str, Any]) -> list[Any]:
        met = r["targets_met"]
        verdict = ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in met.items())
        return [f"{r['works']:,}", r["index"], r["params"] or "", r["build_s"], f"{r['memory_bytes'] / 1e9:.3f}",
                f"{r['disk_rerank_bytes'] / 1e9:.3f}", r["recall_at_10"], r["p50_ms"], r["p99_ms"], verdict]

    head = ["works", "index", "search params", "build s", "RAM GB", "disk GB", "recall@10", "p50 ms", "p99 ms",
            "targets (at 1e7: recall ≥ 0.95, p99 ≤ 20 ms, RAM ≤ 4 GB)"]
    table(f"style index, {results['dim']}-d, k={results['k']}, {results['queries']} single queries, "
          f"{results['threads']} FAISS thread(s)", head, [fmt(r) for r in results["rows"]])
    if results.get("extrapolated"):
        table("extrapolated to 10,000,000 works (not measured): " + results["formula"], head,
              [fmt(r) for r in results["extrapolated"]])
    product = [r for r in results["rows"] + results.get("extrapolated", []) if "check_p99_ms" in r]
    if product:
        table("in-product path (index_factory = auto): vectors memory-mapped, per-artist works read on demand; "
              "check = search k=10 + exact scores of every candidate artist",
              ["works", "factory", "RAM GB", "disk GB", "recall@10", "search p50/p99 ms", "code scan p50/p99 ms",
               "check p50 ms", "check p99 ms", "best artist = in-RAM exact", "max score diff", "extrapolated"],
              [[f"{r['works']:,}", r["factory"], f"{r['memory_bytes'] / 1e9:.3f}", f"{r['disk_rerank_bytes'] / 1e9:.3f}",
                r["recall_at_10"], f"{r['p50_ms']} / {r['p99_ms']}", f"{r['scan_p50_ms']} / {r['scan_p99_ms']}",
                r["check_p50_ms"], r["check_p99_ms"] if "check_p99_bound_ms" not in r
                else f"{r['check_p99_ms']} (bound {r['check_p99_bound_ms']})",
                r.get("best_artist_agreement", ""),
                "" if r.get("best_score_max_abs_diff") is None else f"{r['best_score_max_abs_diff']:.1e}",
                "yes" if "extrapolated_from" in r else ""] for r in product])
    print_stages(results)


def print_stages(results: dict[str, Any]) -> None:
    """Per-stage wall/CPU table of each measured in-product row, the pooled variant, the norms
    and the stage-by-stage estimate at 10^7."""
    from stylegate.output import table

    from .index_product import STAGES

    measured = [r for r in results["rows"] if r.get("stages")]
    for r in measured:
        body = []
        for name in (*STAGES, "total"):
            warm = r["stages"][name]
            cold = (r.get("stages_cold") or {}).get(name)
            body.append([name, warm["wall_p50_ms"], warm["wall_p99_ms"], warm["cpu_p50_ms"], warm["cpu_p99_ms"],
                         "" if cold is None else f"{cold['wall_p50_ms']} / {cold['wall_p99_ms']}"])
        body.append(["match_image (check)", r["check_p50_ms"], r["check_p99_ms"], r["check_cpu_p50_ms"],
                     r["check_cpu_p99_ms"], ""])
        table(f"{r['works']:,} works: the check's stages, ms (warm page cache; thread CPU beside wall; "
              f"candidate artists' rows read per check p50 {r['stages']['artist_rows_p50']:.0f}, "
              f"p99 {r['stages']['artist_rows_p99']:.0f}; check p99 with FAISS left at "
              f"{results['threads']} thread(s): {r['check_threads_toggled_p99_ms']} ms)",
              ["stage", "wall p50", "wall p99", "CPU p50", "CPU p99", "cold page cache wall p50 / p99"], body)
        pooled = r.get("pooled")
        if pooled:
            print(f"  pooled variant (candidate artists scored from the re-ranked pool where it vouches for them): "
                  f"check p50/p99 {pooled['check_p50_ms']} / {pooled['check_p99_ms']} ms, "
                  f"rows read per check {pooled['artist_rows_per_check']}, best artist = exact "
                  f"{pooled['best_artist_agreement']:.3f}, max score diff {pooled['best_score_max_abs_diff']}")
        if "norms_build_s" in r:
            print(f"  sampled style norms over the mapped works: {r['norms_artists']:,} artists in "
                  f"{r['norms_build_s']} s ({r['norms_build_cpu_s']} s CPU), {r['norms_resident_bytes'] / 1e6:.1f} MB resident")
    for c in results.get("norm_checks", []):
        print(f"  style norms at {c['works']:,} works ({c['artists']:,} artists): exact {c['exact_s']} s, sampled "
              f"({c['sample']} impostor works) {c['sampled_s']} s; |impostor| max {c['impostor_max_abs']:.4f} "
              f"mean {c['impostor_mean_abs']:.4f}, |genuine| max {c['genuine_max_abs']:.4f}, |normalised score| max "
              f"{c['normalised_max_abs']:.4f} mean {c['normalised_mean_abs']:.4f}; with a norm {c['with_norm_exact']} exact / "
              f"{c['with_norm_sampled']} sampled; same style decisions {c['decisions_same']}/{c['queries']}")
    for r in results.get("extrapolated", []):
        if "check_p99_parts_ms" not in r:
            continue
        parts = r["check_p99_parts_ms"]
        print(f"  at {r['works']:,} ({r['target_factory']}, {r['target_params']}): check (CPU) p50 {r['check_p50_ms']} ms, "
              f"p99 {r['check_p99_ms']} ms (quantiser {parts['quantiser']}, code scan {parts['code_scan']}, re-rank "
              f"{parts['rerank']}, artists {parts['artists']}, rest {parts['rest']}); with this machine's scheduling "
              f"delay at {r['extrapolated_from']:,} (+{r['scheduling_delay_p99_ms']} ms): p99 {r['check_p99_loaded_ms']} ms")
    if results.get("check_formula") and measured:
        print("  formula: " + results["check_formula"])


PEAK_COPIES = 3.2  # the vectors, the index's copy of them, its serialised bytes, and slack


def check_fits(n: int, dim: int) -> None:
    """Refuse a size whose vectors (about 3 copies at the peak) exceed this machine's memory."""
    import os

    from stylegate.errors import InputError

    need = n * dim * 4 * PEAK_COPIES
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise InputError(
            f"{n:,} works × {dim} dims need about {need / 1e9:.1f} GB of memory at the peak; "
            f"{have / 1e9:.1f} GB is free: measure a smaller size (the table extrapolates to 10^7)"
        )
