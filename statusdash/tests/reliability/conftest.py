"""Real pieces for the reliability tests: a hub we can kill, a private Redis, agents that
keep a record of what they collected, a logged-in dashboard socket that counts pushes.

Each hub has a database of its own: SQLite under its DATA_DIR, or, when the run's
DATABASE_URL names PostgreSQL (make test-reliability-postgres), a fresh database on that
server, dropped when the run ends.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from psycopg import sql

from statusdash.tests.support import BASE_DIR, free_port, wait_until_healthy

PYTHON = sys.executable
# Signs that the hub hit trouble it did not handle; searched for in its stderr (logfmt lines,
# or raw tracebacks). Warnings the hub chose to log, with their traces, are not trouble.
TROUBLE = ("database is locked", "level=error", "level=critical", "Internal Server Error")
# The server the hubs' databases go on, or "" for SQLite.
POSTGRES_URL = os.environ.get("DATABASE_URL", "") if os.environ.get("DATABASE_URL", "").startswith("postgres") else ""
ENGINE = "postgresql" if POSTGRES_URL else "sqlite"
_databases_made: list[str] = []


def pytest_report_header() -> str:
    where = urlsplit(POSTGRES_URL).netloc.rsplit("@", 1)[-1] if POSTGRES_URL else "their DATA_DIR"
    return f"reliability hubs on {ENGINE} ({'a fresh database each, on ' if POSTGRES_URL else ''}{where})"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.reliability)


class Hub:
    """A Daphne serving statusdash that a test may SIGKILL and start again on the same port."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "statusdash.settings", **env}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Hub:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "statusdash.lib.server",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "statusdash.asgi:application",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            wait_until_healthy(self.url, seconds=60, process=self.process)
        except RuntimeError:
            self.kill()
            raise RuntimeError(f"hub failed to start:\n{self.log()[-3000:]}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing, as in a power cut or the OOM killer."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def trouble(self) -> list[str]:
        """Lines of the hub's log showing an unhandled error or a lock timeout."""
        return [
            line
            for line in self.log().splitlines()
            if line.startswith("Traceback") or any(sign in line for sign in TROUBLE)
        ]


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, dict[str, Any]]]:
    """One standalone hub for a module of tests that only read or add: (hub, keys).

    Hosts: web-1, web-2, and one per HOSTILE_NAMES entry; keys as prepare_standalone.
    """
    directory = tmp_path_factory.mktemp("shared-hub")
    env = standalone_env(directory / "hub-data")
    keys = prepare_standalone(env, ["web-1", "web-2", *HOSTILE_NAMES])
    hub = Hub(env, directory / "hub.log").start()
    yield hub, keys
    hub.stop()


# Host names that try to break out of HTML, SQL or a terminal. They must come back verbatim
# through the API and escaped in every page.
XSS = '<script>alert("xss-9")</script>'
HOSTILE_NAMES = [
    XSS,
    '"><img src=x onerror=alert(9)>',
    "x'; DROP TABLE hosts_host; --",
    "ünïcødé-主机-☃-\u202egnp.exe",
]


@pytest.fixture
def start_hub(tmp_path: Path) -> Iterator[Any]:
    """start_hub(env) -> a running Hub, stopped when the test ends."""
    hubs: list[Hub] = []

    def start(env: dict[str, str], port: int | None = None) -> Hub:
        hub = Hub(env, tmp_path / f"hub-{len(hubs)}.log", port=port)
        hubs.append(hub)
        return hub.start()

    yield start
    for hub in hubs:
        hub.stop()


def manage(env: dict[str, str], *args: str) -> str:
    """Run manage.py with a hub's environment; its stdout."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "statusdash.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def standalone_env(data_dir: Path, tablespace: str | None = None, **extra: str) -> dict[str, str]:
    """A hub with a database of its own (not the test run's): SQLite under data_dir, or a
    fresh PostgreSQL database (in `tablespace`, if given)."""
    database_url = fresh_postgres_database(tablespace) if POSTGRES_URL else ""
    env = {"DATA_DIR": str(data_dir), "DATABASE_URL": database_url, "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    env.update(extra)
    return env


def postgres_admin() -> psycopg.Connection[Any]:
    """A connection to the server's maintenance database, for creating and dropping others."""
    return psycopg.connect(urlsplit(POSTGRES_URL)._replace(path="/postgres").geturl(), autocommit=True)


def fresh_postgres_database(tablespace: str | None = None) -> str:
    """Create an empty database on the PostgreSQL server (in `tablespace`, if given); its URL."""
    name = f"statusdash_reliability_{secrets.token_hex(4)}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if tablespace:
        statement += sql.SQL(" TABLESPACE {}").format(sql.Identifier(tablespace))
    with postgres_admin() as admin:
        admin.execute(statement)
    _databases_made.append(name)
    return urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()


def drop_postgres_database(name: str) -> None:
    with postgres_admin() as admin:
        # FORCE: a hub killed with SIGKILL may leave a backend behind for a moment.
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_databases() -> Iterator[None]:
    yield
    while _databases_made:
        drop_postgres_database(_databases_made.pop())


def query(env: dict[str, str], statement: str) -> list[tuple[Any, ...]]:
    """Rows of one SELECT on a standalone hub's database, whichever engine it has."""
    if env["DATABASE_URL"]:
        with psycopg.connect(env["DATABASE_URL"]) as db:
            return db.execute(statement).fetchall()
    path = Path(env["DATA_DIR"]) / "db" / "status-dashboard.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(statement).fetchall()


SETUP_SCRIPT = """
import json
from django.contrib.auth.models import User
from hosts.models import ApiKey, ApiKeyScope, Host
names = json.loads({names!r})
User.objects.create_superuser("admin", "admin@example.com", "reliability-pass")
keys = {{"read": ApiKey.issue(ApiKeyScope.READ, label="reliability")[1], "agents": {{}}}}
for name in names:
    # Names double as display names, tags and descriptions, so hostile names reach every field.
    host = Host.objects.create(name=name, display_name=name, description=name, tags=[name])
    keys["agents"][name] = ApiKey.issue(ApiKeyScope.AGENT, host=host)[1]
revoked_read, keys["revoked_read"] = ApiKey.issue(ApiKeyScope.READ, label="revoked")
revoked_read.revoke()
if names:
    revoked_agent, keys["revoked_agent"] = ApiKey.issue(ApiKeyScope.AGENT, host=Host.objects.get(name=names[0]))
    revoked_agent.revoke()
print(json.dumps(keys))
"""


def prepare_standalone(env: dict[str, str], host_names: list[str]) -> dict[str, Any]:
    """Migrate a standalone hub's database; create an admin (admin / reliability-pass),
    a read key and one agent key per host, and revoked ones.

    Returns {"read", "revoked_read", "revoked_agent" (the first host's): key, "agents": {name: key}}."""
    manage(env, "migrate", "--verbosity", "0")
    out = manage(env, "shell", "-c", SETUP_SCRIPT.format(names=json.dumps(host_names)))
    return dict(json.loads(out.strip().splitlines()[-1]))


def login(base_url: str, username: str, password: str) -> requests.Session:
    """A session logged in through the real login form (CSRF and all)."""
    session = requests.Session()
    session.get(f"{base_url}/login/", timeout=10).raise_for_status()
    response = session.post(
        f"{base_url}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{base_url}/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, f"login failed: {response.status_code}"
    return session


CARD = re.compile(r'id="host-(\d+)"')
COLLECTED_AT = re.compile(r'data-collected-at="([^"]+)"')


class DashboardSocket:
    """The dashboard's WebSocket in a thread, logged in, recording every pushed host card.

    It reconnects (as htmx's ws extension does) when the hub closes the socket.
    """

    def __init__(self, base_url: str, session: requests.Session, reconnect: bool = False) -> None:
        self.url = base_url.replace("http://", "ws://") + "/ws/dashboard/"
        self.origin = base_url
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        self.reconnect = reconnect
        self.pushes: dict[int, list[str | None]] = defaultdict(list)
        self.connections = 0
        self.refusals = 0  # connections closed or refused
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-socket", daemon=True)

    def __enter__(self) -> DashboardSocket:
        self._thread.start()
        assert self.connected.wait(15), "the dashboard socket did not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        while not self._stop.is_set():
            try:
                with connect(self.url, origin=self.origin, additional_headers={"Cookie": self.cookie}) as socket:
                    self.connections += 1
                    self.connected.set()
                    while not self._stop.is_set():
                        try:
                            message = socket.recv(timeout=0.2)
                        except TimeoutError:
                            continue
                        self._record(str(message))
            except (WebSocketException, OSError):
                self.refusals += 1
            if not self.reconnect:
                return
            time.sleep(0.5)

    def _record(self, html: str) -> None:
        card = CARD.search(html)
        if card:
            stamp = COLLECTED_AT.search(html)
            self.pushes[int(card.group(1))].append(stamp.group(1) if stamp else None)

    def wait_for(self, host_id: int, collected_at: str, seconds: float = 20) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if collected_at in self.pushes.get(host_id, []):
                return True
            time.sleep(0.1)
        return False


RECORDING_AGENT = """
import sys
from agent import collector
from agent.cli import main

record_path = sys.argv.pop(1)
collect = collector.Collector.collect

def recorded(self):
    report = collect(self)
    with open(record_path, "a") as record:  # appended before the report is sent or spooled
        record.write(report["collected_at"] + "\\n")
    return report

collector.Collector.collect = recorded
sys.exit(main(sys.argv[1:]))
"""


class RecordingAgent:
    """A real `python -m agent run` whose collector also appends each collected_at to a file,
    so a test can compare what was collected with what the hub stored."""

    def __init__(self, directory: Path, server_url: str, key: str, interval: float = 1) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.record = directory / "collected.txt"
        self.spool_dir = directory / "spool"
        self.log_path = directory / "agent.log"
        env = {
            "PATH": os.environ["PATH"],
            "SERVER_URL": server_url,
            "MTLS_ENABLED": "false",
            "API_KEY": key,
            "SPOOL_DIR": str(self.spool_dir),
            "REPORT_INTERVAL": str(interval),
            "REQUEST_TIMEOUT": "5",
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(BASE_DIR),
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [PYTHON, "-c", RECORDING_AGENT, str(self.record), "run"],
                cwd=directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def collected(self) -> set[str]:
        return set(self.record.read_text().split()) if self.record.exists() else set()

    def _spool_rows(self, query: str) -> list[tuple[Any, ...]]:
        path = self.spool_dir / "spool.sqlite3"
        if not path.exists():
            return []
        for attempt in range(10):
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                    return db.execute(query).fetchall()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):  # the agent is creating its spool right now
                    return []
                # A read-only reader cannot make the WAL's -shm file itself: while the agent
                # closes its spool (and SQLite removes -wal and -shm) a read meets "disk I/O
                # error" (CI, once). Read again in a moment; the agent's writes are whole.
                if "disk I/O error" not in str(error) or attempt == 9:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def spooled(self) -> int:
        return len(self._spool_rows("SELECT id FROM reports"))

    def spooled_collected_at(self) -> set[datetime]:
        # Read from the body: the collected_at column is a float, for the age bound only.
        return {as_utc(json.loads(body)["collected_at"]) for (body,) in self._spool_rows("SELECT body FROM reports")}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class PrivateRedis:
    """A redis-server of this test's own on a free port (never the shared one on 6379)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path).start()
    yield server
    server.stop()


def stored_reports(env: dict[str, str]) -> dict[str, list[datetime]]:
    """Every stored sample of a standalone hub, per host name (duplicates would show twice)."""
    rows = query(env, "SELECT h.name, m.collected_at FROM metrics_metricsample m JOIN hosts_host h ON h.id = m.host_id")
    result: dict[str, list[datetime]] = defaultdict(list)
    for name, collected_at in rows:
        result[name].append(as_utc(collected_at))
    return result


def host_ids(env: dict[str, str]) -> dict[str, int]:
    return {name: pk for name, pk in query(env, "SELECT name, id FROM hosts_host")}


def as_utc(stamp: str | datetime) -> datetime:
    """A timestamp as the agent, the database or a pushed card writes it, as an aware datetime
    in UTC (PostgreSQL hands back datetimes in its session's time zone, SQLite text)."""
    parsed = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
