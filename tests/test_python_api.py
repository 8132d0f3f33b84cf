"""The public Python API: what `import stylegate` offers, loaded lazily, and the README's
example, run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import stylegate

README = Path(__file__).resolve().parents[1] / "README.md"
HEAVY = ("torch", "open_clip", "diffusers", "faiss", "pandas", "onnxruntime")


def readme_python_api_example() -> str:
    section = README.read_text("utf-8").split("### Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match is not None, "README's Python API section has no python example"
    return match.group(1)


def test_every_public_name_resolves_and_help_shows_them() -> None:
    code = (
        "import sys, pydoc, stylegate\n"
        "text = pydoc.render_doc(stylegate, renderer=pydoc.plaintext)\n"
        "missing = [n for n in stylegate.__all__ if n != '__version__' and n not in text]\n"
        "print('VERSION', 'VERSION' in text and stylegate.__version__ in text)\n"
        "print('MISSING', missing)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True).stdout
    assert "MISSING []" in out and "VERSION True" in out
    for name in stylegate.__all__:
        assert getattr(stylegate, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        stylegate.nonsense  # noqa: B018


def test_import_stylegate_loads_nothing_heavy() -> None:
    code = f"import sys, stylegate; print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "[]"


def test_open_workspace_fails_closed_on_a_missing_home(tmp_path: Path) -> None:
    with pytest.raises(stylegate.StylegateError, match="no stylegate home at .*init"):
        stylegate.open_workspace(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.slow
def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STYLEGATE_HOME"}
    (tmp_path / "example.py").write_text(readme_python_api_example(), "utf-8")
    run = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[0] == "block 3"
    action, seq, steps = lines[1].split()
    assert action == "allow" and int(seq) > 0 and steps == "8"
    written = [line.split() for line in lines[2:]]
    assert written and all(status == ["verified", "verified"] for _, *status in written)
    assert all((tmp_path / path).is_file() for path, *_ in written)
