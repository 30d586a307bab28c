"""On PostgreSQL, agents reporting at once through a real Daphne while a dashboard watches:
every report answered 2xx is stored, nothing is a 5xx, and the hub holds no more database
connections than its pool allows (WEB_THREADS + 1 per web process, docs/deploy.md)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from django.test import Client

from accounts.roles import VIEWER
from conftest import hub_env, test_database_url
from hosts.models import ApiKey, ApiKeyScope, Host
from metrics.models import MetricSample
from statusdash.tests.skips import postgres_only
from statusdash.tests.support import daphne_server, dashboard_socket, sample_report, user_with_role

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    postgres_only,
    pytest.mark.django_db(transaction=True),
]

AGENTS = 12
SECONDS = 6
WEB_THREADS = 2
# The hub's own backends, told apart from this test's by the name they give PostgreSQL.
APPLICATION_NAME = "statusdash-load-test"


class BackendPeak:
    """The most backends PostgreSQL had open for one application name, sampled every 20 ms."""

    def __init__(self, application_name: str) -> None:
        self.application_name = application_name
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        with psycopg.connect(test_database_url(), autocommit=True) as watcher:
            while not self._stop.is_set():
                row = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [self.application_name]
                ).fetchone()
                self.peak = max(self.peak, row[0] if row else 0)
                self._stop.wait(0.02)

    def __enter__(self) -> BackendPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[str]:
    url = f"{test_database_url()}?application_name={APPLICATION_NAME}"
    with daphne_server(env=hub_env(tmp_path, DATABASE_URL=url, WEB_THREADS=str(WEB_THREADS))) as base:
        yield base


def report_as_fast_as_possible(url: str, key: str, until: float, statuses: list[int], sent: list[str]) -> None:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    clock = datetime.now(UTC) - timedelta(minutes=1)
    while time.monotonic() < until:
        clock += timedelta(milliseconds=10)
        try:
            response = session.post(url, data=json.dumps(sample_report(clock)), timeout=30)
        except requests.RequestException as error:
            statuses.append(0)
            sent.append(f"transport error: {error}")
            continue
        statuses.append(response.status_code)
        if response.status_code == 202:
            sent.append(clock.isoformat())


def test_concurrent_reports_are_all_stored_with_no_5xx_and_connections_within_the_pool(hub: str) -> None:
    keys = {}
    for i in range(AGENTS):
        host = Host.objects.create(name=f"pg-load-{i:02d}")
        keys[host.name] = ApiKey.issue(ApiKeyScope.AGENT, host=host)[1]
    browser = Client()
    browser.force_login(user_with_role("viewer", VIEWER))
    statuses: dict[str, list[int]] = {name: [] for name in keys}
    accepted: dict[str, list[str]] = {name: [] for name in keys}

    with dashboard_socket(hub, browser.cookies["sessionid"].value) as socket, BackendPeak(APPLICATION_NAME) as peak:
        until = time.monotonic() + SECONDS
        agents = [
            threading.Thread(
                target=report_as_fast_as_possible,
                args=(f"{hub}/api/metrics/report", key, until, statuses[name], accepted[name]),
            )
            for name, key in keys.items()
        ]
        for agent in agents:
            agent.start()
        for agent in agents:
            agent.join()
        pushed = str(socket.recv(timeout=15))  # the dashboard's consumer read the database too

    answers = [status for per_agent in statuses.values() for status in per_agent]
    errors = [line for lines in accepted.values() for line in lines if line.startswith("transport error")]
    assert errors == []
    assert [status for status in answers if status != 202] == []
    assert len(answers) > AGENTS * 5, f"too little load to say anything: {len(answers)} requests"
    for name, stamps in accepted.items():
        stored = MetricSample.objects.filter(host__name=name).count()
        assert stored == len(stamps), f"{name}: {len(stamps)} answered 202, {stored} stored"
    assert 'id="host-' in pushed
    assert 1 <= peak.peak <= WEB_THREADS + 1, f"the hub held {peak.peak} connections"
    print(f"\npostgres load: {len(answers)} reports, all 202 and stored; {peak.peak} connections at most")
