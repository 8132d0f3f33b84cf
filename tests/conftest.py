"""Shared fixtures: every test gets its own STYLEGATE_HOME in a temp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("STYLEGATE_DEVICE", "cpu")


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("STYLEGATE_HOME", str(path))
    return path
