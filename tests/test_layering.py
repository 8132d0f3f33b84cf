"""Dependencies point one way: shell (cli, service, demo, bench) → operations → generator →
governance → registry. Checked on the import statements of every module (function-local
imports included), so a shortcut through a lazy import is caught too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL = ("stylegate.cli", "stylegate.service", "stylegate.demo", "stylegate.bench")

# layer -> (its source folder, the packages it must never import)
RULES = {
    "governance": (ROOT / "governance", ("stylegate.generator", "stylegate.operations", *SHELL)),
    "generator": (ROOT / "generator", ("stylegate.operations", *SHELL)),
    "operations": (ROOT / "stylegate" / "operations", SHELL),
    "reports": (ROOT / "reports", ("stylegate.generator", "stylegate.operations", *SHELL)),
}


def imported_modules(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                found.add(node.module)
    return found


def violations(folder: Path, package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted(folder.rglob("*.py")):
        sub = path.relative_to(folder).with_suffix("").parts
        module_package = ".".join([package, *sub[:-1]])
        for name in imported_modules(path, module_package):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(folder)} imports {name}")
    return bad


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    folder, forbidden = RULES[layer]
    package = "stylegate.operations" if layer == "operations" else f"stylegate.{layer}"
    assert violations(folder, package, forbidden) == []


def test_service_routers_never_import_each_other() -> None:
    folder = ROOT / "stylegate" / "service" / "routers"
    names = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    bad = []
    for path in folder.glob("*.py"):
        for name in imported_modules(path, "stylegate.service.routers"):
            if name.startswith("stylegate.service.routers.") and name.rsplit(".", 1)[1] in names:
                bad.append(f"{path.name} imports {name}")
    assert bad == []


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("def f():\n    from stylegate.operations.checks import check_prompt\n    from ...cli import app\n")
    assert len(violations(tmp_path, "stylegate.governance.x", ("stylegate.operations", "stylegate.cli"))) == 2
