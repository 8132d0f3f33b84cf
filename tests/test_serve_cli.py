"""`stylegate serve --workers N`: bad values are usage errors (exit 2) that say what is wrong,
before any home is opened or any port bound."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stylegate.cli import app

runner = CliRunner()


@pytest.mark.parametrize("value", ["0", "-3", "65", "two", "1.5", ""])
def test_a_bad_worker_count_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "serve", "--workers", value])
    assert result.exit_code == 2, result.output
    assert "--workers" in result.output
    assert not (tmp_path / "home").exists()


def test_several_workers_refuse_per_process_rate_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLEGATE_RATE_LIMIT_STORE", "memory")
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "serve", "--workers", "2"])
    assert result.exit_code == 2, result.output
    assert "STYLEGATE_RATE_LIMIT_STORE=memory" in result.output and "each worker" in result.output
    assert not (tmp_path / "home").exists()


def test_an_unknown_rate_limit_store_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLEGATE_RATE_LIMIT_STORE", "redis")
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "serve", "--workers", "2"])
    assert result.exit_code != 0 and "rate_limit_store" in result.output.lower(), result.output
