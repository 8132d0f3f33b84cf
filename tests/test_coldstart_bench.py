"""The cold-start benchmark runs the real CLI in fresh processes and reports what it measured."""

from __future__ import annotations

import pytest

from stylegate.bench.coldstart import TARGET_S, run_coldstart_bench


@pytest.mark.slow
def test_coldstart_bench_times_fresh_processes() -> None:
    results = run_coldstart_bench(repeats=2)
    check, help_ = results["check_prompt"], results["help"]
    assert results["repeats"] == 2 and results["target_s"] == TARGET_S
    assert 0 < check["wall_min_s"] <= check["wall_median_s"]
    assert 0 < check["cpu_median_s"]
    assert 0 < help_["wall_min_s"] <= help_["wall_median_s"]
    assert results["target_met"] == (check["wall_median_s"] <= TARGET_S)
    assert results["first_check_s"] > 0 and results["setup_s"] >= results["first_check_s"]
