"""Wall-clock latency samples and their summaries, shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def time_each(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[float]:
    """Seconds each ``fn(item)`` took, in order."""
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - start)
    return out


def percentile_ms(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000.0, q))


def latency_summary(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile_ms(samples, 50), 3),
        "p99_ms": round(percentile_ms(samples, 99), 3),
        "throughput_per_s": round(len(samples) / max(sum(samples), 1e-12), 1),
        "n": len(samples),
    }
