"""The policy `stylegate bench steer` runs under: its options reach the policy it writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from stylegate.bench.steer import _bench_policy
from stylegate.governance.policy import default_policy_text, parse_policy


def _written(tmp_path: Path, **options: object) -> str:
    (tmp_path / "policy.toml").write_text(default_policy_text(), "utf-8")
    _bench_policy(tmp_path, "retry", **options)  # type: ignore[arg-type]
    return (tmp_path / "policy.toml").read_text("utf-8")


@pytest.mark.parametrize("step", [0.0, 0.75, 2.0])
def test_the_retry_guidance_step_reaches_the_bench_policy(tmp_path: Path, step: float) -> None:
    policy = parse_policy(_written(tmp_path, retry_guidance_step=step))
    assert policy.steering.retry_guidance_step == step
    assert policy.action_for("opt-out", "name").value == "steer"  # the bench's own change is still made


def test_without_the_option_the_shipped_step_stays(tmp_path: Path) -> None:
    shipped = parse_policy(default_policy_text()).steering.retry_guidance_step
    assert parse_policy(_written(tmp_path)).steering.retry_guidance_step == shipped


def test_a_policy_without_the_line_is_refused(tmp_path: Path) -> None:
    text = "\n".join(line for line in default_policy_text().splitlines() if not line.startswith("retry_guidance_step"))
    (tmp_path / "policy.toml").write_text(text, "utf-8")
    with pytest.raises(RuntimeError, match="retry_guidance_step"):
        _bench_policy(tmp_path, "retry", retry_guidance_step=0.0)
