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


@pytest.mark.slow
def test_several_workers_refuse_a_home_whose_index_lags_before_binding(tmp_path: Path) -> None:
    """The pre-flight gate (in a child process) fails with the index's own message and exit
    code; no worker starts and the port is never bound."""
    import io

    from stylegate.operations.ingest import add_works, init_home
    from stylegate.settings import Settings
    from stylegate.styleworld import world
    from stylegate.workspace import Workspace

    home = tmp_path / "home"
    settings = Settings(home=home, device="cpu")
    ws = Workspace(settings, create=True)
    init_home(ws)
    stale = settings.index_path.read_bytes(), settings.index_path.with_name(settings.index_path.name + ".json").read_bytes()
    artist = world.ARTISTS[0]
    ws.store.add_artist(artist.name, consent="opt-out")
    buf = io.BytesIO()
    world.render(artist, world.SUBJECTS[0], 1).save(buf, "PNG")
    (tmp_path / "w.png").write_bytes(buf.getvalue())
    add_works(ws, artist.name, [tmp_path / "w.png"])
    ws.store.close()
    settings.index_path.write_bytes(stale[0])  # the index as it was before the work: it lags the registry
    settings.index_path.with_name(settings.index_path.name + ".json").write_bytes(stale[1])

    import socket

    with socket.socket() as taken:  # should the check not fail, uvicorn fails to bind rather than serve forever
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = runner.invoke(app, ["--home", str(home), "serve", "--workers", "2", "--port", port])
    assert result.exit_code == 1, result.output
    assert "index rebuild" in result.output and "Uvicorn running" not in result.output
