"""The few actors every test needs, and the switches for tests that need real services."""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from hosts import pki, vault
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.skips import unavailable
from statusdash.tests.support import sample_report

# When a test may skip, and CI's count of the skips: statusdash/tests/skips.py. pytester runs
# that plugin in a pytest of its own (statusdash/tests/test_skips.py).
pytest_plugins = ["statusdash.tests.skips", "pytester"]

# One Redis database per xdist worker: Celery tests on two workers must not take each
# other's tasks from a shared queue.
_XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL") or f"redis://127.0.0.1:6379/{15 - _XDIST_WORKER}"
POSTGRES_TEST_URL = os.environ.get("POSTGRES_TEST_URL", "postgres://postgres@127.0.0.1:5432/test")
CHROMIUM = "/usr/bin/chromium"
# Seconds a test of each kind may take (pytest-timeout) unless it sets its own; others get
# pyproject's 60. The slowest of each kind took about a third of its limit on a loaded 2-core machine.
TIMEOUTS = {"reliability": 300, "browser": 180, "slow": 180}


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Time limits by kind of test (TIMEOUTS), and serialized rollback for transactional tests.

    Transactional tests empty every table when they end, which would also remove what
    data migrations created (the default alert rules) for the tests after them: they
    get serialized rollback, which puts the migrated contents back.
    """
    for item in items:
        kind = next((kind for kind in TIMEOUTS if kind in item.keywords), None)
        if kind is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIMEOUTS[kind]))
        marker = item.get_closest_marker("django_db")
        transactional = (marker is not None and marker.kwargs.get("transaction")) or bool(
            {"transactional_db", "live_hub"} & set(getattr(item, "fixturenames", ()))
        )
        if transactional:
            kwargs = {**(marker.kwargs if marker else {}), "transaction": True, "serialized_rollback": True}
            item.add_marker(pytest.mark.django_db(*(marker.args if marker else ()), **kwargs), append=False)


@functools.cache
def missing_services() -> dict[str, str | None]:
    """Why each service a marker names cannot be used here, or None when it can (checked once)."""
    return {
        "redis": None if _reachable(REDIS_TEST_URL) else f"Redis not reachable at {REDIS_TEST_URL}",
        "postgres": None if _reachable(POSTGRES_TEST_URL) else f"PostgreSQL not reachable at {POSTGRES_TEST_URL}",
        "browser": None if os.path.exists(CHROMIUM) else f"no browser at {CHROMIUM} (apt-get install chromium)",
    }


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # tryfirst: before any fixture starts a server for a test that cannot run.
    for service, reason in missing_services().items():
        if reason is not None and service in item.keywords:
            unavailable(reason)


@pytest.fixture(scope="session", autouse=True)
def collected_static(django_db_blocker: Any) -> None:
    """Pages use hashed static names, so the manifest must be current before any page renders.

    Run every session (it copies only what changed), one xdist worker at a time.
    """
    import fcntl

    from django.conf import settings

    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    with open(settings.STATIC_ROOT / ".collect.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _quick_password_hashes(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [
        "statusdash.tests.support.QuickPBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def host(db: Any) -> Host:
    return Host.objects.create(name="web-1", display_name="Web 1", tags=["prod"])


@pytest.fixture
def vault_dir(tmp_path: Path, settings: Any) -> Path:
    """A private VAULT_PATH, so tests never touch the developer's CA."""
    settings.VAULT_PATH = tmp_path / "vault"
    pki._ca_certificate.cache_clear()
    return settings.VAULT_PATH


@pytest.fixture
def ca(vault_dir: Path, db: Any) -> pki.CertificateAuthority:
    return vault.create_ca()


@pytest.fixture
def cert_host(db: Any) -> Host:
    return Host.objects.create(name="agent-1")


@pytest.fixture
def agent_key(host: Host) -> str:
    _, raw = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    return raw


@pytest.fixture
def read_key(db: Any) -> str:
    _, raw = ApiKey.issue(ApiKeyScope.READ, label="tests")
    return raw


@pytest.fixture
def make_report() -> Callable[..., dict[str, Any]]:
    """make_report(seconds_ago=0, **overrides) -> a valid report dict."""

    def make(seconds_ago: float = 0, **overrides: Any) -> dict[str, Any]:
        report = sample_report(datetime.now(UTC) - timedelta(seconds=seconds_ago))
        report.update(overrides)
        return report

    return make


def test_database_url() -> str:
    """A DATABASE_URL pointing a server subprocess at the database this test run uses."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


@pytest.fixture
def live_hub(transactional_db: Any, tmp_path: Any) -> Any:
    """A real Daphne on a free port, sharing this test's database. Yields its base URL.

    Extra environment for the server: `live_hub.start(env={...})` is not needed for
    the plain case; use `hub_server` (below) to pass settings.
    """
    from statusdash.tests.support import daphne_server

    with daphne_server(env=hub_env(tmp_path)) as url:
        yield url


def hub_env(tmp_path: Any, **extra: str) -> dict[str, str]:
    """Environment for a hub subprocess: this test's database, a private DATA_DIR."""
    from django.conf import settings

    env = {
        "DATABASE_URL": test_database_url(),
        "DATA_DIR": str(tmp_path / "hub-data"),
        "SECRET_KEY": settings.SECRET_KEY,
        "STATUS_JWT_SECRET": settings.STATUS_JWT_SECRET,
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
        # This process exports its own directory; the hub's goes under its DATA_DIR.
        "PROMETHEUS_MULTIPROC_DIR": "",
    }
    env.update(extra)
    return env


@pytest.fixture
def viewer_client(db: Any, client: Any) -> Any:
    """A test client logged in as a user with the viewer role."""
    from django.contrib.auth.models import User

    from accounts.roles import VIEWER, set_role

    set_role(User.objects.create_user("viewer", password=VIEWER_PASSWORD), VIEWER)
    client.login(username="viewer", password=VIEWER_PASSWORD)
    return client


VIEWER_PASSWORD = "pw-viewer-123"  # noqa: S105 (a test user's)
