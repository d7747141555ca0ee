"""Algorithms live in plain modules with no Django import (STYLE.md, "Where logic lives")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    "engagements/chain.py",
    "engagements/units.py",
    "engagements/customer_list.py",
    "engagements/lifecycle.py",
    "engagements/playbook.py",
    "territories/quality.py",
    "territories/synthetic.py",
    "territories/balancing",
    "territories/valuation.py",
    "territories/tiers.py",
    "territories/segments.py",
    "territories/coverage.py",
    "territories/ingest.py",
    "territories/geo.py",
    "territories/hierarchy.py",
    "territories/runs.py",
    "territories/planning.py",
    "territories/diagrams.py",
    "routing/engine.py",
    "routing/qa.py",
    "routing/tables.py",
    "routing/salesforce.py",
    "handoff/triggers.py",
    "handoff/sensitivity.py",
    "handoff/schedule.py",
]


def _files():
    for entry in PURE:
        path = ROOT / entry
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        elif path.exists():
            yield path


# A pure module may import another pure module (routing.qa builds on routing.engine).
PURE_MODULES = {".".join(path.relative_to(ROOT).with_suffix("").parts) for path in _files()}


@pytest.mark.parametrize("path", list(_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_does_not_import_django(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            imported = _imported(node)
            if name in PURE_MODULES or (
                imported and all(f"{name}.{n}" in PURE_MODULES for n in imported)
            ):
                continue
            top = name.split(".")[0]
            assert top not in {"django", "engagements", "routing", "handoff", "config"}, (
                f"{path}: imports {name}"
            )
            assert not name.startswith(
                ("territories.models", "territories.services", "territories.views")
            ), f"{path}: imports {name}"


def _imported(node: ast.AST) -> list[str]:
    """The names ``from package import a, b`` imports (modules, when they are pure ones)."""
    return [alias.name for alias in node.names] if isinstance(node, ast.ImportFrom) else []
