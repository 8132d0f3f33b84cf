"""Style norms at scale, for `stylegate bench index`: the sampled norms against the exact ones.

Above :data:`~stylegate.governance.matching.style_norm_sampled.EXACT_MAX_WORKS` works the
view builds its style norms from a bounded sample (:mod:`.style_norm_sampled`). Two figures:

* ``compare_norms``: at a size where both run (the first :data:`COMPARE_WORKS` works of the
  bench's data), the exact all-pairs norms and the sampled ones: build time of each, the
  largest and mean absolute difference of the impostor and genuine means and of the
  normalised style score of every (query, candidate artist) pair, and how often the style
  decision (the default policy's thresholds: normalised ≥ ``style``, or cosine ≥
  ``style_cosine`` for an artist without a norm) is the same;
* ``sampled_build``: at the bench size itself, the sampled norms built from the works read on
  demand from the memory-mapped index (what the view does): time and resident bytes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from stylegate.bench.clustered import ClusteredSet

COMPARE_WORKS = 20_000  # exact all-pairs norms at 512-d take about a minute here
K = 10


def _artist_works(base: np.ndarray, artist_of: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    order = np.argsort(artist_of, kind="stable")
    artists, starts = np.unique(artist_of[order], return_index=True)
    return {int(a): (rows + 1, base[rows]) for a, rows in zip(artists, np.split(order, starts[1:]))}


def _flagged(scores: Mapping[int, float], norms: Mapping[int, Any], style: float, cosine: float) -> frozenset[int]:
    out = set()
    for a, s in scores.items():
        norm = norms.get(a)
        if (norm.normalise(s) >= style) if norm is not None else (s >= cosine):
            out.add(a)
    return frozenset(out)


def compare_norms(data: ClusteredSet, n: int = COMPARE_WORKS) -> dict[str, Any]:
    """Exact against sampled norms on the first ``n`` works (see the module docstring)."""
    from stylegate.governance.matching.scores import STYLE_TOP_M
    from stylegate.governance.matching.style_norm import StyleNormState
    from stylegate.governance.matching.style_norm_sampled import IMPOSTOR_SAMPLE, SampledStyleNormState
    from stylegate.governance.policy import Thresholds

    n = min(n, data.base.shape[0])
    base, owner = data.base[:n], data.artist_of[:n]
    dim = base.shape[1]
    works = _artist_works(base, owner)
    start, cpu = time.perf_counter(), time.process_time()
    exact = StyleNormState.build(works, STYLE_TOP_M, dim).norms()
    exact_s, exact_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    sampled = SampledStyleNormState.build(works, STYLE_TOP_M, dim).norms()
    sampled_s, sampled_cpu = time.perf_counter() - start, time.process_time() - cpu
    both = sorted(set(exact) & set(sampled))
    imp = np.array([abs(exact[a].impostor - sampled[a].impostor) for a in both])
    gen = np.array([abs(exact[a].genuine - sampled[a].genuine) for a in both])
    thresholds = Thresholds()
    top = np.argsort(-(data.queries @ base.T), axis=1)[:, :K]
    diffs: list[float] = []
    same = 0
    for q, nearest in zip(data.queries, top):
        scores = {}
        for a in dict.fromkeys(int(owner[i]) for i in nearest):
            scores[a] = float(np.sort(works[a][1] @ q)[::-1][:STYLE_TOP_M].mean())
            if a in exact and a in sampled:
                diffs.append(abs(exact[a].normalise(scores[a]) - sampled[a].normalise(scores[a])))
        same += int(_flagged(scores, exact, thresholds.style, thresholds.style_cosine)
                    == _flagged(scores, sampled, thresholds.style, thresholds.style_cosine))
    return {
        "works": n, "artists": len(works), "sample": min(IMPOSTOR_SAMPLE, n),
        "exact_s": round(exact_s, 2), "exact_cpu_s": round(exact_cpu, 2),
        "sampled_s": round(sampled_s, 2), "sampled_cpu_s": round(sampled_cpu, 2),
        "with_norm_exact": len(exact), "with_norm_sampled": len(sampled), "with_norm_both": len(both),
        "impostor_max_abs": float(imp.max()) if imp.size else None, "impostor_mean_abs": float(imp.mean()) if imp.size else None,
        "genuine_max_abs": float(gen.max()) if gen.size else None, "genuine_mean_abs": float(gen.mean()) if gen.size else None,
        "normalised_max_abs": float(max(diffs)) if diffs else None,
        "normalised_mean_abs": float(np.mean(diffs)) if diffs else None,
        "decisions_same": same, "queries": len(data.queries),
    }


def sampled_build(works: Mapping[int, tuple[np.ndarray, np.ndarray]], dim: int) -> dict[str, Any]:
    """The sampled norms built from ``works`` (on demand from the mapped index), timed."""
    from stylegate.governance.matching.scores import STYLE_TOP_M
    from stylegate.governance.matching.style_norm_sampled import SampledStyleNormState

    start, cpu = time.perf_counter(), time.process_time()
    state = SampledStyleNormState.build(works, STYLE_TOP_M, dim)
    norms = state.norms()
    resident = state.sample_vectors.nbytes + sum(a.nbytes for a in (state.imp_sum, state.n_imp, state.gen, state.n_own))
    return {"norms_build_s": round(time.perf_counter() - start, 2), "norms_build_cpu_s": round(time.process_time() - cpu, 2),
            "norms_artists": len(norms), "norms_resident_bytes": int(resident)}
