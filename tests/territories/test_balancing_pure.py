"""The engine is a pure package: no Django anywhere in it, pandas only where files are read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "territories" / "balancing"
MODULES = sorted(PACKAGE.glob("*.py"))


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_package_has_its_modules():
    assert {p.stem for p in MODULES} >= {
        "__init__", "model", "bounds", "metrics", "greenfield", "continuity", "growth", "geo",
        "io", "cli", "engine", "search",
    }  # fmt: skip


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_django_import(path):
    assert "django" not in imported(path)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_only_numpy_scipy_and_the_standard_library(path):
    third_party = imported(path) - {"numpy", "scipy", "territories", "__future__"}
    allowed = {"pandas", "python_calamine"} if path.name == "io.py" else set()
    for name in third_party - allowed:
        assert name in {
            "argparse", "collections", "csv", "dataclasses", "io", "json", "pathlib", "sys", "time",
            "typing", "zipfile",
        }, f"{path.name} imports {name}"  # fmt: skip
