"""statusdash/tests/skips.py in a pytest run of its own: what skips, what fails in CI."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from statusdash.tests.support import BASE_DIR

Run = Callable[..., pytest.RunResult]

TESTS = """
import pytest
from statusdash.tests.skips import postgres_only, require_tool, sqlite_only, on_request_only_for_screenshots

@pytest.mark.needs_tool("statusdash-no-such-tool", "statusdash-no-such-package")
def test_needs_a_missing_tool_by_marker():
    pass

def test_needs_a_missing_tool_by_call():
    require_tool("statusdash-no-such-tool", "statusdash-no-such-package")

@pytest.mark.needs_tool("sh", "dash")
def test_needs_a_tool_that_is_there():
    pass

@sqlite_only
def test_of_sqlite():
    pass

@postgres_only
def test_of_postgresql():
    pass

@on_request_only_for_screenshots(False)
def test_screenshots():
    pass

@pytest.mark.xfail(reason="an expected failure is not a skip")
def test_expected_to_fail():
    assert False
"""

OTHER_SKIP = """
import pytest

@pytest.mark.skipif(True, reason="not on Tuesdays")
def test_skipped_for_another_reason():
    pass
"""


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Run:
    """run(source, ci=...) -> the result of a pytest run of that test module with the plugin."""
    monkeypatch.setenv("PYTHONPATH", str(BASE_DIR))
    # Only the plugin under test: the installed ones (hypothesis, Django...) take seconds to load.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def run(source: str, *, ci: bool) -> pytest.RunResult:
        monkeypatch.setenv("CI", "true" if ci else "")
        pytester.makepyfile(test_module=source)
        pytester.makeini("[pytest]\naddopts = --strict-markers\n")  # the plugin registers needs_tool
        return pytester.runpytest_subprocess("-p", "statusdash.tests.skips", "-rs")

    return run


def test_a_missing_tool_is_a_skip_naming_its_package_outside_ci(run: Run) -> None:
    result = run(TESTS, ci=False)
    result.assert_outcomes(passed=2, skipped=4, xfailed=1)
    result.stdout.fnmatch_lines(
        ["*statusdash-no-such-tool not installed (apt-get install statusdash-no-such-package)*"]
    )
    assert result.ret == pytest.ExitCode.OK


def test_a_missing_tool_is_a_failure_in_ci(run: Run) -> None:
    result = run(TESTS, ci=True)
    # The marker fails the test's setup (an error), the call fails the test itself.
    result.assert_outcomes(passed=2, failed=1, errors=1, skipped=2, xfailed=1)
    result.stdout.fnmatch_lines(["*statusdash-no-such-tool not installed*CI must provide it (.ci/run)*"])


def test_ci_allows_the_engine_split_and_the_screenshots(run: Run) -> None:
    result = run(TESTS, ci=True)
    result.stdout.fnmatch_lines(["2 skipped, 0 of them for a reason CI does not allow"])


def test_a_skip_for_any_other_reason_fails_the_run_in_ci(run: Run) -> None:
    result = run(OTHER_SKIP, ci=True)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "1 skipped, 1 of them for a reason CI does not allow",
            "  test_module.py::test_skipped_for_another_reason: not on Tuesdays",
            "CI fails: *",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_same_skip_passes_outside_ci(run: Run) -> None:
    result = run(OTHER_SKIP, ci=False)
    result.stdout.fnmatch_lines(["1 skipped, 1 of them for a reason CI does not allow"])
    assert result.ret == pytest.ExitCode.OK
