"""A real Celery worker with beat on the Redis broker: an offline host is detected and notified end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from alerts.models import Alert, DeliveryStatus, Notification, NotificationChannel
from conftest import REDIS_TEST_URL, hub_env
from hosts.models import Host
from statusdash.tests.support import BASE_DIR

from .conftest import Receiver


def wait_for(condition: Any, seconds: float, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise AssertionError(f"worker exited: {worker.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_and_beat_detect_an_offline_host_and_notify(receiver: Receiver, tmp_path: Path) -> None:
    host = Host.objects.create(name="gone-1", last_seen=timezone.now() - timedelta(minutes=10))
    NotificationChannel.objects.create(name="hook", url=receiver.url)
    env = hub_env(
        tmp_path,
        REDIS_URL=REDIS_TEST_URL,
        ALERT_SWEEP_SECONDS="1",
        ALERT_DISPATCH_SECONDS="1",
        ALERT_GROUP_WINDOW_SECONDS="0",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "statusdash", "worker", "--beat", "--pool=solo", "--loglevel=WARNING"],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: Alert.objects.firing().filter(rule="host_offline", host=host).exists(), 40, worker)
        wait_for(lambda: Notification.objects.filter(status=DeliveryStatus.SENT).exists(), 20, worker)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    assert receiver.messages[0]["title"].startswith("FIRING [CRITICAL] gone-1: gone-1 has not reported")
    assert (tmp_path / "hub-data" / "db" / "celerybeat-schedule").exists() or any(
        (tmp_path / "hub-data" / "db").glob("celerybeat-schedule*")
    )
