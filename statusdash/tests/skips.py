"""When a test may skip, and CI's count of the skips: a pytest plugin, loaded by conftest.py
(and by agent/tests/standalone.ini, for the agent's tests on their own).

On a developer's machine a test that needs a tool or a service that is not there skips,
saying what to install. In CI (`CI=true`, set by .ci/run, which installs and starts
everything the suite needs) the same test fails instead: a skip there would hide a test
that never ran. Every test that needs something from outside Python says so in one of
two ways, both ending in `unavailable()`:

- `@pytest.mark.needs_tool("nginx", "nginx")` (command, Debian package), or
  `require_tool(command, package)` inside a test or fixture that needs the path;
- the `redis`, `postgres` and `browser` markers, for the services conftest.py checks.

CI fails the run when any test skipped for a reason other than these, the only ones it
allows (ALLOWED_IN_CI):

- the database-engine split: `sqlite_only` and `postgres_only` below, for tests of one
  engine's own machinery (its backups, its connections); .ci/run runs the suite on both
  engines, so each of these runs in one of the two runs;
- `on_request_only_for_screenshots`: the test that saves the README's screenshots into
  docs/screenshots. It checks nothing the other browser tests do not, and run in CI it
  would rewrite the pictures in the checkout.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")

SQLITE_ONLY = "runs in the suite against SQLite (make test)"
POSTGRES_ONLY = "runs in the suite against PostgreSQL (make test-postgres)"
SCREENSHOTS_ON_REQUEST = "set STATUSDASH_SCREENSHOTS=docs/screenshots to save screenshots"
ALLOWED_IN_CI = (SQLITE_ONLY, POSTGRES_ONLY, SCREENSHOTS_ON_REQUEST)

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason=SQLITE_ONLY)
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason=POSTGRES_ONLY)


def on_request_only_for_screenshots(requested: bool) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not requested, reason=SCREENSHOTS_ON_REQUEST)


def unavailable(reason: str) -> NoReturn:
    """This test cannot run here for want of `reason`: a skip locally, a failure in CI."""
    if IN_CI:
        pytest.fail(f"{reason}; CI must provide it (.ci/run)", pytrace=False)
    pytest.skip(f"{reason}; runs in CI")


def find_tool(command: str) -> str | None:
    # Debian keeps daemons such as nginx in /usr/sbin, which is not on every user's PATH.
    candidates = (f"/usr/sbin/{command}", f"/usr/bin/{command}")
    return shutil.which(command) or next((path for path in candidates if Path(path).exists()), None)


def require_tool(command: str, package: str) -> str:
    """The path of `command`; when it is missing, unavailable() names the package to install."""
    path = find_tool(command)
    if path is None:
        unavailable(f"{command} not installed (apt-get install {package})")
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # tryfirst: before any fixture starts a server for a test that cannot run.
    for marker in item.iter_markers("needs_tool"):
        require_tool(*marker.args, **marker.kwargs)


class SkipLedger:
    """Every skip of the run with its reason; in CI, a failed run for reasons not allowed."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}  # node id: reason

    def record(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        # An expected failure is reported as "skipped" too; it is not a skip.
        if report.skipped and not hasattr(report, "wasxfail"):
            longrepr = report.longrepr
            message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.reasons[report.nodeid] = message.removeprefix("Skipped: ")

    def not_allowed(self) -> dict[str, str]:
        return {node: reason for node, reason in self.reasons.items() if reason not in ALLOWED_IN_CI}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.record(report)

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.record(report)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if IN_CI and self.not_allowed() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        not_allowed = self.not_allowed()
        write = terminalreporter.write_line
        terminalreporter.section("skipped tests")
        write(f"{len(self.reasons)} skipped, {len(not_allowed)} of them for a reason CI does not allow")
        for node, reason in sorted(not_allowed.items()):
            write(f"  {node}: {reason}")
        if IN_CI and not_allowed:
            write("CI fails: a test skipped for a reason other than those in statusdash/tests/skips.py")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs_tool(command, package): runs a command-line tool (skipped when missing, except in CI)"
    )
    # Under xdist the controller sees every worker's reports; the workers keep no ledger.
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(SkipLedger(), "statusdash-skip-ledger")


# axe-core (a test tool only, never served): `npm install --prefix var/axe axe-core@4`, git-ignored under var/.
AXE_PATH = Path(__file__).resolve().parents[2] / "var" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def require_axe() -> Path:
    """The axe-core script to inject into a page under test, or unavailable()."""
    if not AXE_PATH.is_file():
        unavailable(f"axe-core is not installed at {AXE_PATH} (npm install --prefix var/axe axe-core@4)")
    return AXE_PATH


# oidc-provider (a test tool only, the single sign-on tests' identity provider):
# `npm install --prefix var/oidc-provider oidc-provider@9.13.3`, git-ignored under var/; run with node.
OIDC_PROVIDER_PATH = (
    Path(__file__).resolve().parents[2]
    / "var"
    / "oidc-provider"
    / "node_modules"
    / "oidc-provider"
    / "lib"
    / "index.js"
)


def require_oidc_provider() -> tuple[str, Path]:
    """node and the oidc-provider package's entry point, or unavailable()."""
    node = require_tool("node", "nodejs")
    if not OIDC_PROVIDER_PATH.is_file():
        unavailable(
            f"oidc-provider is not installed at {OIDC_PROVIDER_PATH} "
            "(npm install --prefix var/oidc-provider oidc-provider@9.13.3)"
        )
    return node, OIDC_PROVIDER_PATH
