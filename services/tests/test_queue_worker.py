"""The `domain-events` queue end to end: statusdash.events.emit -> Redis -> a real Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from alerts.models import Alert
from conftest import REDIS_TEST_URL, hub_env
from services.models import ServiceEvent, ServiceHealth
from statusdash.events import emit
from statusdash.testing import BASE_DIR

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()  # only this run's database number: no messages left from an earlier run
    env = {**os.environ, **hub_env(tmp_path, REDIS_URL=REDIS_TEST_URL)}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "statusdash", "worker", "-Q", "domain-events,celery"),
            *("--pool", "solo", "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"),
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        client.flushdb()


def wait_for(condition: Any, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Poll the shared database until the worker has done its part (a real process: no clock to move)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"worker exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.2)
    raise AssertionError("the worker did not apply the events in time")


def test_emitted_events_are_applied_by_the_worker(worker: subprocess.Popen[bytes]) -> None:
    now = datetime.now(UTC)
    emit(
        "SYSTEM_SERVICE_HEALTHY",
        {"serviceName": "image-generator", "checkedAt": now - timedelta(seconds=5), "metrics": {"queueDepth": 42}},
        broker_url=REDIS_TEST_URL,
    )
    emit(
        "SYSTEM_SERVICE_UNHEALTHY",
        {"serviceName": "seo", "checkedAt": now.isoformat(), "errorMessage": "crawler stuck"},
        broker_url=REDIS_TEST_URL,
    )
    emit(
        "SYSTEM_ALERT_TRIGGERED",
        {"alertId": "a-1", "serviceName": "seo", "severity": "low", "message": "slow", "triggeredAt": now},
        broker_url=REDIS_TEST_URL,
    )
    emit("SYSTEM_SERVICE_HEALTHY", {"serviceName": "seo"}, broker_url=REDIS_TEST_URL)  # invalid: dropped
    wait_for(lambda: ServiceEvent.objects.count() == 3, worker)
    generator = ServiceHealth.objects.get(name="image-generator")
    assert (generator.status, generator.metrics) == ("healthy", {"queueDepth": 42})
    assert ServiceHealth.objects.get(name="seo").last_error == "crawler stuck"
    assert set(Alert.objects.firing().values_list("rule", flat=True)) == {"health-seo", "event:a-1"}
    assert set(ServiceEvent.objects.values_list("via", flat=True)) == {"queue"}
