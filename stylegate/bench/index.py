"""`stylegate bench`: latency, throughput and FAISS speed/recall, measured on this machine.

Figures are printed, never asserted: targets live here as labelled comparisons so a reader
sees how far each number is from what the project aims for.
"""

from __future__ import annotations

import os
import platform
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stylegate.bench.synthetic import syllable_word
from stylegate.bench.timing import latency_summary, percentile_ms, time_each

SYLLABLES = ["ka", "ri", "mo", "zen", "la", "vor", "tis", "an", "dre", "shu", "pel", "gri", "ost", "nel", "bau", "fie", "jor", "qua", "xen", "ul"]
STYLE_WORDS = ["charcoal", "pastel", "neon", "sepia", "ink", "gouache", "pointillist", "cubist", "woodcut", "watercolour", "impasto", "etched", "glitch", "mosaic", "lacquer", "fresco"]
THINGS = ["harbour", "forest", "city street", "portrait", "still life", "mountain", "garden", "market", "river", "train station"]


def synthetic_name(rng: random.Random) -> str:
    return f"{syllable_word(rng, SYLLABLES)} {syllable_word(rng, SYLLABLES)}"


def faiss_vs_numpy(n_vectors: int, dim: int, n_queries: int, k: int = 10, seed: int = 0) -> dict[str, Any]:
    """Default index (IDMap2,Flat) against a numpy scan over the same vectors and queries."""
    from stylegate.registry.style_index import StyleIndex

    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n_vectors, dim), dtype=np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = rng.standard_normal((n_queries, dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = np.arange(1, n_vectors + 1, dtype=np.int64)
    index = StyleIndex.create(dim, {"model": "bench", "checkpoint_sha256": "-", "dim": dim})
    start = time.perf_counter()
    index.add(ids, base)
    build_s = time.perf_counter() - start

    def numpy_scan(q: np.ndarray) -> np.ndarray:
        scores = base @ q
        top = np.argpartition(-scores, k)[:k]
        return ids[top[np.argsort(-scores[top])]]

    def faiss_search(q: np.ndarray) -> np.ndarray:
        return index.search(q.reshape(1, -1), k)[1][0]

    numpy_scan(queries[0]), faiss_search(queries[0])  # warm up
    numpy_times = time_each(numpy_scan, list(queries))
    faiss_times = time_each(faiss_search, list(queries))
    truth = [set(numpy_scan(q).tolist()) for q in queries]
    found = [set(faiss_search(q).tolist()) for q in queries]
    recall = float(np.mean([len(t & f) / k for t, f in zip(truth, found)]))
    start = time.perf_counter()
    index.search(queries, k)
    faiss_batch_s = time.perf_counter() - start
    start = time.perf_counter()
    sims = queries @ base.T
    np.argpartition(-sims, k, axis=1)[:, :k]
    numpy_batch_s = time.perf_counter() - start
    numpy_p50 = percentile_ms(numpy_times, 50)
    faiss_p50 = percentile_ms(faiss_times, 50)
    return {
        "vectors": n_vectors,
        "dim": dim,
        "factory": "IDMap2,Flat",
        "build_s": round(build_s, 3),
        "faiss_query_p50_ms": round(faiss_p50, 3),
        "faiss_query_p99_ms": round(percentile_ms(faiss_times, 99), 3),
        "numpy_scan_p50_ms": round(numpy_p50, 3),
        "numpy_scan_p99_ms": round(percentile_ms(numpy_times, 99), 3),
        "speedup_single_query": round(numpy_p50 / max(faiss_p50, 1e-9), 2),
        "faiss_batch_ms_per_query": round(1000 * faiss_batch_s / n_queries, 3),
        "numpy_batch_ms_per_query": round(1000 * numpy_batch_s / n_queries, 3),
        "speedup_batched": round(numpy_batch_s / max(faiss_batch_s, 1e-12), 2),
        "recall_at_10": round(recall, 4),
    }


def populate_bench_home(ws: Any, n_artists: int, seed: int = 0) -> list[str]:
    """Register the StyleWorld artists with works, plus synthetic artists up to ``n_artists``.

    Returns prompts to check: named, described and plain, for real and synthetic artists.
    """
    from stylegate.registry.models import Consent
    from stylegate.styleworld import world

    rng = random.Random(seed)
    consents = [Consent.OPT_OUT, Consent.ROYALTY, Consent.CREDIT]
    with tempfile.TemporaryDirectory() as tmp:
        for i, artist in enumerate(world.ARTISTS):
            ws.store.add_artist(artist.name, consent=Consent(artist.consent), descriptors=artist.descriptors)
            folder = Path(tmp) / f"a{i}"
            folder.mkdir()
            for seed_ in range(4):
                world.render(artist, world.SUBJECTS[seed_ % len(world.SUBJECTS)], seed_).save(folder / f"{seed_}.png")
            from stylegate.operations.ingest import add_works

            add_works(ws, artist.name, [folder])
    names = set(a.name.lower() for a in world.ARTISTS)
    synthetic: list[str] = []
    while len(synthetic) + len(world.ARTISTS) < n_artists:
        name = synthetic_name(rng)
        if name.lower() in names:
            continue
        names.add(name.lower())
        synthetic.append(name)
        descriptors = tuple(f"{rng.choice(STYLE_WORDS)} {rng.choice(STYLE_WORDS)} style" for _ in range(2))
        ws.store.add_artist(name, consent=rng.choice(consents), descriptors=descriptors)
    prompts = []
    for j in range(200):
        thing = rng.choice(THINGS)
        kind = j % 4
        if kind == 0:
            prompts.append(f"a {thing} by {rng.choice(synthetic or [world.ARTISTS[0].name])}")
        elif kind == 1:
            artist = rng.choice(world.ARTISTS)
            prompts.append(f"a {rng.choice(world.SUBJECTS)} by {artist.name}")
        elif kind == 2:
            prompts.append(f"a {rng.choice(world.SUBJECTS)} in {world.describe(rng.choice(world.ARTISTS))}")
        else:
            prompts.append(f"a detailed {thing} at dusk, wide angle, soft light")
    return prompts


def run_core_bench(n_artists: int = 1000, n_vectors: int = 100_000, n_queries: int = 200, device: str = "cpu", dims: Sequence[int] = (512,)) -> dict[str, Any]:
    """Both check benchmarks on a temporary StyleWorld home, then FAISS at the embedder's
    dimension and at each of ``dims`` (512 is a ViT-B CLIP's)."""
    from stylegate.settings import Settings
    from stylegate.styleworld import world
    from stylegate.workspace import Workspace

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as home:
        ws = Workspace(Settings(home=Path(home), device=device))
        ws.configure_threads()
        results["machine"] = machine_info()
        from stylegate.operations.ingest import init_home

        init_home(ws)
        start = time.perf_counter()
        prompts = populate_bench_home(ws, n_artists)
        results["setup_s"] = round(time.perf_counter() - start, 2)
        gate = ws.gate()
        for p in prompts[:5]:
            gate.check_prompt(p)
        prompt_times = time_each(gate.check_prompt, prompts)
        results["prompt_check"] = {"artists": len(gate.view.artists), **latency_summary(prompt_times)}
        images = [world.render(world.ARTISTS[i % len(world.ARTISTS)], world.SUBJECTS[i % len(world.SUBJECTS)], 10_000 + i) for i in range(100)]
        gate.check_image(images[0])
        image_times = time_each(gate.check_image, images)
        results["image_check"] = {"works": len(gate.view.work_artist), **latency_summary(image_times)}
        embedder_dim = ws.embedder.dim
    results["faiss"] = [faiss_vs_numpy(n_vectors, d, n_queries) for d in dict.fromkeys([embedder_dim, *dims])]
    return results


def machine_info() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def print_results(results: dict[str, Any]) -> None:
    from stylegate.output import table

    m = results["machine"]
    print(f"machine: {m['platform']}, {m['cpus']} CPUs, torch threads {m['torch_threads']}, python {m['python']}")
    p, i = results["prompt_check"], results["image_check"]
    table(
        "checks (sequential, one at a time)",
        ["check", "registry", "p50 ms", "p99 ms", "per second", "target"],
        [
            ["prompt", f"{p['artists']} artists", p["p50_ms"], p["p99_ms"], p["throughput_per_s"], f"p99 ≤ 50 ms: {'met' if p['p99_ms'] <= 50 else 'NOT met'}"],
            ["image", f"{i['works']} works", i["p50_ms"], i["p99_ms"], i["throughput_per_s"], ""],
        ],
    )
    for f in results["faiss"]:
        table(
            f"FAISS {f['factory']} vs numpy scan: {f['vectors']:,} vectors × {f['dim']} dims, k=10",
            ["measure", "FAISS", "numpy", "speed-up", "target"],
            [
                ["single query p50 (ms)", f["faiss_query_p50_ms"], f["numpy_scan_p50_ms"], f"{f['speedup_single_query']}×", f"≥ 5×: {'met' if f['speedup_single_query'] >= 5 else 'NOT met'}"],
                ["batched (ms/query)", f["faiss_batch_ms_per_query"], f["numpy_batch_ms_per_query"], f"{f['speedup_batched']}×", ""],
                ["recall@10", f["recall_at_10"], "1.0 (truth)", "", f"= 1.0: {'met' if f['recall_at_10'] >= 1.0 else 'NOT met'}"],
            ],
        )
