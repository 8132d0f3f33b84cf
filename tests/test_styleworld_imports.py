"""StyleWorld depends on none of stylegate's other packages (DESIGN.md, "Layout")."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import stylegate.styleworld

STYLEWORLD = Path(stylegate.styleworld.__file__).resolve().parent
PACKAGE = ("stylegate", "styleworld")


def imported_modules(source: str, package: Sequence[str]) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, a module of ``package``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            found.append((node.lineno, ".".join([*base, node.module] if node.module else base)))
    return found


def foreign_stylegate_imports(source: str, package: Sequence[str] = PACKAGE) -> list[tuple[int, str]]:
    """Imports of a stylegate package other than ``stylegate.styleworld``."""
    def ours(module: str) -> bool:
        return module == "stylegate" or module.startswith("stylegate.")

    def styleworld(module: str) -> bool:
        return module == "stylegate.styleworld" or module.startswith("stylegate.styleworld.")

    return [(line, m) for line, m in imported_modules(source, package) if ours(m) and not styleworld(m)]


def test_styleworld_imports_only_itself_and_third_party_libraries() -> None:
    files = sorted(p for p in STYLEWORLD.rglob("*.py") if "weights" not in p.relative_to(STYLEWORLD).parts)
    assert len(files) > 5, STYLEWORLD
    offending = [
        f"{path.relative_to(STYLEWORLD)}:{line}: {module}"
        for path in files
        for line, module in foreign_stylegate_imports(
            path.read_text(encoding="utf-8"), (*PACKAGE, *path.relative_to(STYLEWORLD).parts[:-1])
        )
    ]
    assert not offending, offending


def test_the_check_sees_absolute_relative_and_nested_imports() -> None:
    source = (
        "import numpy\n"
        "from .world import ARTISTS\n"
        "from stylegate.styleworld import models\n"
        "from ..governance import gate\n"
        "import stylegate.registry.store\n"
        "def f():\n"
        "    from stylegate.bench.redteam import generate_corpus\n"
        "    from stylegate import errors\n"
    )
    assert foreign_stylegate_imports(source) == [
        (4, "stylegate.governance"), (5, "stylegate.registry.store"), (7, "stylegate.bench.redteam"), (8, "stylegate"),
    ]
