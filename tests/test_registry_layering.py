"""`registry` is the bottom layer: it imports nothing of stylegate but its errors and itself."""

from __future__ import annotations

import ast
from pathlib import Path

import stylegate.registry

REGISTRY = Path(stylegate.registry.__file__).parent
ALLOWED = ("stylegate.errors", "stylegate.registry")
LAYERS = ("stylegate", "governance", "generator", "reports", "styleworld", "registry")


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def _forbidden(module: str) -> bool:
    if module.split(".")[0] not in LAYERS:
        return False  # third-party or standard library
    return not any(module == ok or module.startswith(ok + ".") for ok in ALLOWED)


def test_registry_imports_no_other_layer() -> None:
    files = sorted(REGISTRY.rglob("*.py"))
    assert files, REGISTRY
    bad = [
        f"{f.relative_to(REGISTRY)}:{line}: {module}"
        for f in files
        for line, module in _imported(ast.parse(f.read_text("utf-8"), str(f)))
        if _forbidden(module)
    ]
    assert bad == [], "registry must import only stylegate.errors and itself:\n" + "\n".join(bad)


def test_the_check_sees_a_forbidden_import() -> None:
    tree = ast.parse("import os\nfrom stylegate.governance.embedder import Embedder\nfrom . import works\n"
                     "def f():\n    import stylegate.locks\n")
    assert [m for _, m in _imported(tree) if _forbidden(m)] == ["stylegate.governance.embedder", "stylegate.locks"]
