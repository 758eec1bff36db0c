"""The house holds by test as well as by contract (issue 25): no module of the product imports itself back
through others (a file import cycle, lazy imports included), and no function is longer than a person can
read. import-linter (`make lint`) keeps the layers; these keep what its contracts cannot say."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

PRODUCT = ("backoffice", "listings", "orders", "refunds", "messaging", "payouts", "automation", "inventory")
PACKAGES = (*PRODUCT, "emulator", "bench")
ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 80


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph(*PACKAGES)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back and not _package_and_its_own(module, imported):
                cycles.append(f"{module} -> {' -> '.join(back)}")
    assert cycles == []


def _package_and_its_own(a: str, b: str) -> bool:
    """A package's __init__ naming its own submodules (Django's models/__init__.py, admin/__init__.py) and a
    submodule importing a sibling through the package are one room, not a cycle."""
    return a.startswith(b + ".") or b.startswith(a + ".")


def test_no_function_is_over_80_lines() -> None:
    long = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_LINES:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
