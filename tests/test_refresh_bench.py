"""The refresh benchmark measures what it says: every change seen, none by a rebuild."""

from __future__ import annotations

import pytest

from stylegate.bench.refresh import measure_refresh


@pytest.mark.slow
def test_refresh_bench_sees_every_change_without_rebuilding() -> None:
    result = measure_refresh(300, changes=4)
    assert result["artists"] == 300 and result["changes"] == 4
    assert result["seen"] == 4
    assert (result["refreshes"], result["rebuilds_after_start"]) == (4, 0)
    assert set(result["by_kind"]) == {"add", "alias", "consent", "remove"}


@pytest.mark.slow
def test_refresh_bench_with_works_sees_uploads_and_withdrawals_by_delta() -> None:
    result = measure_refresh(300, changes=4, works=True, works_changes=2)
    assert result["works"] >= 300 and result["changes"] == 6
    assert result["seen"] == 6, result["unseen"]
    assert (result["refreshes"], result["rebuilds_after_start"]) == (6, 0)
    assert result["index_loads_after_start"] == 0  # each works change caught up by the writer's delta
    assert {"works add", "works withdraw"} <= set(result["by_kind"])
