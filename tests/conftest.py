"""Shared fixtures: every test gets its own STYLEGATE_HOME in a temp dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stylegate.operations.ingest import init_home

os.environ.setdefault("STYLEGATE_DEVICE", "cpu")


def initialised(settings):
    """``settings`` after ``stylegate init`` of its home (only init creates a home)."""
    from stylegate.workspace import Workspace

    init_home(Workspace(settings, create=True))
    return settings


def registered_workspace(base: Path, **register: Any):
    """A fresh home under ``base`` with StyleWorld artists registered from renders in
    ``base / "ref"`` (``register``: :func:`register_styleworld`'s options)."""
    from stylegate.bench.fixtures import register_styleworld
    from stylegate.settings import Settings
    from stylegate.workspace import Workspace

    workspace = Workspace(Settings(home=base / "home", device="cpu"))
    init_home(workspace)
    register_styleworld(workspace, base / "ref", **register)
    return workspace


@pytest.fixture(scope="session", autouse=True)
def onnx_towers_cache(tmp_path_factory: pytest.TempPathFactory):
    """One cache of exported ONNX towers for the session (keyed by checkpoint, so sharing is
    safe): the towers are exported once instead of once per test home."""
    if "STYLEGATE_MODEL_CACHE_DIR" in os.environ:
        yield Path(os.environ["STYLEGATE_MODEL_CACHE_DIR"])
        return
    path = tmp_path_factory.mktemp("onnx-towers")
    os.environ["STYLEGATE_MODEL_CACHE_DIR"] = str(path)
    try:
        yield path
    finally:
        os.environ.pop("STYLEGATE_MODEL_CACHE_DIR", None)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("STYLEGATE_HOME", str(path))
    return path


# ----------------------------------------------------------------- hunspell dictionaries
# The name screen tells famous one-word names from ordinary words by the case of hunspell
# dictionaries' entries (governance/screening/propernouns.py), and the real-names figures the
# tests assert depend on it. As with chromium: when they are missing and the tests run as
# root on Debian, they are installed with apt-get before the first test.
def pytest_sessionstart(session: pytest.Session) -> None:
    import shutil
    import subprocess

    from stylegate.governance.screening import propernouns

    if propernouns.installed_dictionaries():
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *propernouns.DEBIAN_PACKAGES], env=env, check=False,
                       capture_output=True)
    if not propernouns.installed_dictionaries():
        print("warning: no hunspell dictionaries (apt-get install " + " ".join(propernouns.DEBIAN_PACKAGES)
              + "); the real-names tests that depend on famous one-word names will fail")


# ----------------------------------------------------------------- headless browser
# Browser tests run Debian's chromium through Playwright's Python client. When chromium is
# missing and the tests run as root on Debian, the fixture installs it with apt-get; with
# STYLEGATE_REQUIRE_BROWSER=1 (set by .ci/run) a missing browser fails instead of skipping.
ARTIFACTS = Path(os.environ.get("STYLEGATE_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-extensions", "--no-first-run"]


def _find_chromium() -> str | None:
    import shutil

    explicit = os.environ.get("STYLEGATE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _install_chromium() -> None:
    import shutil
    import subprocess

    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False, capture_output=True)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _find_chromium()
    if path is None:
        _install_chromium()
        path = _find_chromium()
    if path is None:
        message = "no chromium: install Debian's chromium package (apt-get install chromium) or set STYLEGATE_CHROMIUM"
        if os.environ.get("STYLEGATE_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """A headless Chromium (Playwright) shared by the browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# ----------------------------------------------------------------- PostgreSQL
# The registry suites run on SQLite and on a real PostgreSQL server (tests/pg_server.py),
# started once per session. Without PostgreSQL's binaries the PostgreSQL variants skip, or
# fail with STYLEGATE_REQUIRE_POSTGRES=1 (set by .ci/run).
@pytest.fixture(scope="session")
def pg_server():
    from pg_server import PostgresServer, find_bindir

    bindir = find_bindir()
    message = None
    if bindir is None:
        message = ("no PostgreSQL server binaries (initdb): install Debian's postgresql package "
                   "(apt-get install postgresql) or set STYLEGATE_PG_BINDIR")
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            message = "the psycopg driver is not installed (python -m pip install 'psycopg[binary]')"
    if message is not None:
        if os.environ.get("STYLEGATE_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    assert bindir is not None
    server = PostgresServer.start(bindir)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def fresh_pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new database on the session's PostgreSQL server, dropped afterwards."""
    server = request.getfixturevalue("pg_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, empty registry database URL on each backend: a SQLite file, or a new
    PostgreSQL database on the session's server (dropped after the test)."""
    if request.param == "sqlite":
        from stylegate.registry.store import sqlite_url

        yield sqlite_url(tmp_path / "registry.db")
        return
    with fresh_pg_database(request) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_target(request: pytest.FixtureRequest, tmp_path: Path):
    """Where a fresh audit log goes on each backend: a SQLite file path, or the URL of a new
    PostgreSQL database on the session's server (the log's tables go in its stylegate_audit schema)."""
    if request.param == "sqlite":
        yield tmp_path / "audit.db"
        return
    with fresh_pg_database(request) as url:
        yield url
