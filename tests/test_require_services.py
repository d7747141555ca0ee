"""The REQUIRE_SERVICES guard (tests/require_services.py): with the variable set, a skipped
service test fails the run; without it, the same skip is only a skip.

Each test runs a small pytest session of its own (pytester, in-process) with only the guard
plugin loaded (no Django, no Playwright), on test files written for the occasion.
"""

from __future__ import annotations

import pytest

from tests import require_services

pytest_plugins = ["pytester"]

INI = """
[pytest]
addopts = --strict-markers
markers =
    needs_postgres: a service test
    needs_redis: a service test
    browser: a service test
"""

MARKED_TEST_SKIPPED = """
import pytest

@pytest.mark.needs_redis
@pytest.mark.skip(reason="needs Redis")
def test_talks_to_redis():
    pass

def test_plain():
    pass
"""

MARKED_MODULE_SKIPPED_WHILE_COLLECTING = """
import pytest

pytestmark = pytest.mark.browser
pytest.importorskip("a_module_that_is_not_installed_anywhere")

def test_drives_chromium():
    pass
"""

UNMARKED_MODULE_SKIPPED_WHILE_COLLECTING = """
import pytest

pytest.skip("not on this platform", allow_module_level=True)

def test_something():
    pass
"""

CONFTEST_SKIPPING_ITS_DIRECTORY = """
import pytest

pytest.importorskip("a_module_that_is_not_installed_anywhere")
"""

MARKED_MODULE = """
import pytest

pytestmark = [pytest.mark.browser]

def test_drives_chromium():
    pass
"""

PLAIN = """
def test_plain():
    pass
"""


@pytest.fixture
def run(pytester, monkeypatch):
    """``run(required, **files)``: write the files, run pytest with the guard, return the result."""
    pytester.makeini(INI)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    def _run(required: bool, **files: str):
        if required:
            monkeypatch.setenv("REQUIRE_SERVICES", "1")
        else:
            monkeypatch.delenv("REQUIRE_SERVICES", raising=False)
        pytester.makepyfile(**files)
        return pytester.runpytest("-p", "tests.require_services", "-p", "no:cacheprovider")

    return _run


def test_a_skipped_service_test_fails_the_run_when_services_are_required(run):
    result = run(True, test_marked=MARKED_TEST_SKIPPED)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*REQUIRE_SERVICES: service tests were skipped*",
            "skipped but required: test_marked.py::test_talks_to_redis",
        ]
    )


def test_the_same_skip_passes_when_services_are_not_required(run):
    result = run(False, test_marked=MARKED_TEST_SKIPPED)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK
    assert "REQUIRE_SERVICES" not in result.stdout.str()


def test_a_marked_module_skipped_while_collecting_fails_the_run(run):
    result = run(True, test_browser=MARKED_MODULE_SKIPPED_WHILE_COLLECTING, test_other=PLAIN)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["skipped but required: test_browser.py (skipped while collecting)"]
    )


def test_a_module_skipped_while_collecting_passes_when_services_are_not_required(run):
    result = run(False, test_browser=MARKED_MODULE_SKIPPED_WHILE_COLLECTING, test_other=PLAIN)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK


def test_a_directory_of_service_tests_skipped_by_its_conftest_fails_the_run(run):
    files = {
        "e2e/conftest": CONFTEST_SKIPPING_ITS_DIRECTORY,
        "e2e/test_in_browser": MARKED_MODULE,
        "test_other": PLAIN,
    }
    result = run(True, **files)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["skipped but required: e2e (skipped while collecting)"])


def test_skips_that_are_not_service_tests_never_fail_the_run(run):
    result = run(True, test_platform=UNMARKED_MODULE_SKIPPED_WHILE_COLLECTING, test_other=PLAIN)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK
    assert "skipped but required" not in result.stdout.str()


def test_a_failing_run_keeps_its_own_exit_status(run):
    failing = MARKED_TEST_SKIPPED.replace(
        "def test_plain():\n    pass", "def test_plain():\n    assert 0"
    )
    result = run(True, test_marked=failing)
    result.assert_outcomes(failed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_this_suite_runs_with_the_guard_loaded(request):
    # tests/conftest.py loads the plugin: without it CI's REQUIRE_SERVICES=1 would guard nothing.
    guard = request.config.pluginmanager.get_plugin("require-services-guard")
    assert isinstance(guard, require_services.Guard)
