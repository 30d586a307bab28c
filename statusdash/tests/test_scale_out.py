"""Scale-out on real engines: two Daphne processes and two Celery workers sharing Redis.

A report posted to one web process reaches a dashboard connected to the other, through
the Redis channel layer; tasks queued once run once whichever worker takes them, and
one beat schedules each sweep once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client

from accounts.roles import VIEWER
from conftest import REDIS_TEST_URL, hub_env
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.support import BASE_DIR, celery_worker, daphne_server, dashboard_socket, stop, user_with_role

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_hubs(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two Daphne processes, like two `web` replicas: one database, one Redis, one metrics directory."""
    env = hub_env(tmp_path, REDIS_URL=REDIS_TEST_URL)
    with daphne_server(env=env) as first, daphne_server(env=env) as second:
        yield first, second


def logged_in_session() -> str:
    client = Client()
    client.force_login(user_with_role("viewer", VIEWER))
    return client.cookies["sessionid"].value


def test_report_to_one_web_process_updates_a_dashboard_on_the_other(
    two_hubs: tuple[str, str], make_report: Any
) -> None:
    first, second = two_hubs
    host = Host.objects.create(name="edge-7", display_name="Edge Seven")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    with dashboard_socket(second, logged_in_session()) as socket:
        response = requests.post(
            f"{first}/api/metrics/report",
            data=json.dumps(make_report()),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 202
        pushed = str(socket.recv(timeout=15))
    assert f'id="host-{host.pk}"' in pushed
    assert "Edge Seven" in pushed
    assert f"hx-swap-oob=\"outerHTML:[data-card='{host.pk}']\"" in pushed  # swapped in wherever the page shows it


def test_hub_metrics_sum_every_web_process(two_hubs: tuple[str, str], make_report: Any) -> None:
    """Counters written by one Daphne are served by the other (a shared multiprocess directory)."""
    first, second = two_hubs
    host = Host.objects.create(name="edge-8")
    _, agent_key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    _, read_key = ApiKey.issue(ApiKeyScope.READ, label="prometheus")
    with dashboard_socket(first, logged_in_session()):
        for base in (first, second):
            requests.post(
                f"{base}/api/metrics/report",
                data=json.dumps(make_report(seconds_ago=5 if base == first else 0)),
                headers={"Authorization": f"Bearer {agent_key}", "Content-Type": "application/json"},
                timeout=10,
            ).raise_for_status()
        text = requests.get(f"{second}/metrics", headers={"Authorization": f"Bearer {read_key}"}, timeout=10).text
    assert 'statusdash_ingest_reports_total{result="accepted"} 2.0' in text
    assert 'statusdash_websocket_clients{consumer="DashboardConsumer"} 1.0' in text
    assert 'statusdash_host_cpu_percent{host="edge-8"}' in text


@pytest.fixture
def celery_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **hub_env(tmp_path, REDIS_URL=REDIS_TEST_URL),
        "DJANGO_SETTINGS_MODULE": "statusdash.settings",
        "PROBE_LOG": str(tmp_path / "probe.log"),
    }


def runs(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_two_workers_share_the_queue_and_one_beat_schedules_once(celery_env: dict[str, str], tmp_path: Path) -> None:
    from statusdash.tests.celery_probe import app, probe

    # An explicit connection: the app in this process may already hold a producer pool for
    # the broker another test used (the SQLite one); changing broker_url would not reach it.
    connection = app.connection_for_write(celery_env["REDIS_URL"])
    log = Path(celery_env["PROBE_LOG"])
    connection.default_channel.queue_purge("celery")  # leftovers of an aborted run
    probe_module = ["--include", "statusdash.tests.celery_probe"]
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "statusdash.tests.celery_probe",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=BASE_DIR,
        env=celery_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with (
        celery_worker(celery_env, *probe_module, "-n", "probe1@%h"),
        celery_worker(celery_env, *probe_module, "-n", "probe2@%h"),
    ):
        try:
            queued = {probe.apply_async(("queued",), connection=connection).id for _ in range(30)}
            wait_for(lambda: {"queued", "beat"} <= {r[1] for r in runs(log)}, 120, "queued and scheduled tasks to run")
            time.sleep(2)  # a few more beat ticks
        finally:
            stop(beat)
        wait_for(lambda: queued <= {r[0] for r in runs(log)}, 60, "every queued task to run")
        time.sleep(1)  # anything run twice would show by now
    connection.release()
    done = runs(log)
    times_run = Counter(task_id for task_id, _, _ in done)
    assert [task_id for task_id, n in times_run.items() if n > 1] == [], "a task ran twice"
    assert queued <= set(times_run)
    assert {worker for _, _, worker in done} == {f"probe{i}@{os.uname().nodename}" for i in (1, 2)}
    # One beat, ticking every 0.5 s for a few seconds: each tick queued one task, run once.
    assert 2 <= sum(1 for _, label, _ in done if label == "beat") <= 30
