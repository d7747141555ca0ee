"""The ``REQUIRE_SERVICES`` guard: CI cannot go green without really running the service tests.

Tests marked ``needs_postgres``, ``needs_redis`` or ``browser`` skip when their service is absent
(``tests/conftest.py`` adds the skip; a fresh machine has no PostgreSQL and no chromium). With
``REQUIRE_SERVICES=1`` (set by ``.ci/run``) every such skip turns the run's exit status into a
failure, and the terminal summary names what was skipped:

* a marked test skipped at setup or while running (a skip marker, ``pytest.skip`` in a fixture);
* a module skipped while it was being collected (a module-level ``pytest.skip`` or
  ``pytest.importorskip``) when the module uses one of the markers — its marks are never read in
  that case, so its source is searched for ``mark.<marker>``; the same for a directory skipped
  by its ``conftest.py``, searched through its test files.

Django-free on purpose: ``tests/test_require_services.py`` loads it into a pytester run.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

SERVICE_MARKERS = ("needs_postgres", "needs_redis", "browser")


def required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def _source_uses_marker(path: Path) -> bool:
    """Whether the Python file at ``path`` mentions ``mark.<service marker>`` anywhere."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr in SERVICE_MARKERS):
            continue
        owner = node.value
        if (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
            isinstance(owner, ast.Name) and owner.id == "mark"
        ):
            return True
    return False


def _collector_uses_marker(collector: pytest.Collector) -> bool:
    if any(collector.get_closest_marker(name) for name in SERVICE_MARKERS):
        return True
    path = Path(collector.path)
    if path.is_file():
        return path.suffix == ".py" and _source_uses_marker(path)
    if path.is_dir():
        return any(_source_uses_marker(p) for p in sorted(path.rglob("*.py")))
    return False


class Guard:
    """Per-run record of the skipped service tests (one instance per pytest config)."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and any(marker in report.keywords for marker in SERVICE_MARKERS):
            self.skipped.append(report.nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        report = yield
        # A collection skip never reaches pytest_runtest_logreport: the module's tests do not
        # exist as items, so they would otherwise vanish from the run without a trace.
        if report.skipped and _collector_uses_marker(collector):
            self.skipped.append(f"{report.nodeid or collector.nodeid} (skipped while collecting)")
        return report

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if (
            self.skipped
            and required()
            and exitstatus
            in (
                pytest.ExitCode.OK,
                pytest.ExitCode.NO_TESTS_COLLECTED,
            )
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.skipped and required():
            terminalreporter.section("REQUIRE_SERVICES: service tests were skipped", red=True)
            for nodeid in self.skipped:
                terminalreporter.line(f"skipped but required: {nodeid}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Guard(), "require-services-guard")
