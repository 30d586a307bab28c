"""The `domain-events` queue end to end: services.event_client.emit -> Redis -> a real Celery worker."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.models import Alert
from conftest import REDIS_TEST_URL, hub_env
from services.event_client import emit
from services.models import ServiceEvent, ServiceHealth
from statusdash.tests.support import celery_worker

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = hub_env(tmp_path, REDIS_URL=REDIS_TEST_URL)
    quiet = ("--without-heartbeat", "--without-mingle", "--without-gossip")
    with celery_worker(env, "-Q", "domain-events,celery", *quiet) as process:
        yield process


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
    # Names unique to this run: the Redis database may hold messages left by an earlier, aborted run
    # (it is never flushed, as it may be shared).
    run = uuid.uuid4().hex[:8]
    generator, seo = f"image-generator-{run}", f"seo-{run}"
    now = datetime.now(UTC)
    emit(
        "SYSTEM_SERVICE_HEALTHY",
        {"serviceName": generator, "checkedAt": now - timedelta(seconds=5), "metrics": {"queueDepth": 42}},
        broker_url=REDIS_TEST_URL,
    )
    emit(
        "SYSTEM_SERVICE_UNHEALTHY",
        {"serviceName": seo, "checkedAt": now.isoformat(), "errorMessage": "crawler stuck"},
        broker_url=REDIS_TEST_URL,
    )
    emit(
        "SYSTEM_ALERT_TRIGGERED",
        {"alertId": f"a-{run}", "serviceName": seo, "severity": "low", "message": "slow", "triggeredAt": now},
        broker_url=REDIS_TEST_URL,
    )
    emit("SYSTEM_SERVICE_HEALTHY", {"serviceName": seo}, broker_url=REDIS_TEST_URL)  # invalid: dropped
    ours = ServiceEvent.objects.filter(service__name__in=[generator, seo])
    wait_for(lambda: ours.count() == 3, worker)
    state = ServiceHealth.objects.get(name=generator)
    assert (state.status, state.metrics) == ("healthy", {"queueDepth": 42})
    assert ServiceHealth.objects.get(name=seo).last_error == "crawler stuck"
    firing = Alert.objects.firing().filter(subject=seo).values_list("rule", flat=True)
    assert set(firing) == {f"health-{seo}", f"event:a-{run}"}
    assert set(ours.values_list("via", flat=True)) == {"queue"}
