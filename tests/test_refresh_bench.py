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
