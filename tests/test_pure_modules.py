"""Algorithms live in plain modules with no Django import (STYLE.md, "Where logic lives")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    "engagements/chain.py",
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
    "handoff/triggers.py",
]


def _files():
    for entry in PURE:
        path = ROOT / entry
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        elif path.exists():
            yield path


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
            top = name.split(".")[0]
            assert top not in {"django", "engagements", "routing", "handoff", "config"}, (
                f"{path}: imports {name}"
            )
            assert not name.startswith(
                ("territories.models", "territories.services", "territories.views")
            ), f"{path}: imports {name}"
