"""Pushes from processes other than the web server reach open dashboards, with and without Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client, override_settings

from accounts.roles import VIEWER
from alerts.signals import alerts_changed
from conftest import REDIS_TEST_URL, test_database_url
from dashboard import live
from dashboard.consumers import DashboardConsumer
from hosts.models import ApiKey, ApiKeyScope, Host
from hosts.signals import host_changed
from statusdash.tests.support import BASE_DIR, sample_report, user_with_role

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def publish_from_another_process(host_id: int, **env: str) -> None:
    """What a Celery worker does: a separate Python process calls live.host_updated."""
    code = (
        "import django; django.setup()\n"
        "from django.db import transaction\n"
        "from dashboard import live\n"
        f"with transaction.atomic(): live.host_updated({host_id})\n"
    )
    full_env = {**os.environ, "DATABASE_URL": test_database_url(), **env}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=full_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def make_viewer_and_host() -> tuple[User, Host]:
    return user_with_role("viewer", VIEWER), Host.objects.create(name="worker-pushed")


async def open_dashboard(user: User) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
    communicator.scope["user"] = user
    assert (await communicator.connect())[0]
    return communicator


async def test_worker_push_without_redis_arrives_through_the_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "OUTBOX_POLL_SECONDS", 0.05)
    user, host = await database_sync_to_async(make_viewer_and_host)()
    communicator = await open_dashboard(user)
    await database_sync_to_async(publish_from_another_process)(host.pk, REDIS_URL="")
    html = await communicator.receive_from(timeout=5)
    assert f'id="host-{host.pk}"' in html
    await communicator.disconnect()


@pytest.mark.redis
async def test_worker_push_with_redis_arrives_through_the_channel_layer() -> None:
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_TEST_URL], "prefix": "statusdash"},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers, REDIS_URL=REDIS_TEST_URL):
        user, host = await database_sync_to_async(make_viewer_and_host)()
        communicator = await open_dashboard(user)
        await database_sync_to_async(publish_from_another_process)(host.pk, REDIS_URL=REDIS_TEST_URL)
        html = await communicator.receive_from(timeout=5)
        assert f'id="host-{host.pk}"' in html
        await communicator.disconnect()


async def test_push_waits_for_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    # A card rendered before the transaction commits would show stale data.
    sent: list[Any] = []
    monkeypatch.setattr(live, "_publish", lambda groups, event: sent.append(event))

    def inside_a_rolled_back_transaction() -> None:
        from django.db import transaction

        with pytest.raises(RuntimeError), transaction.atomic():
            live.host_updated(1)
            raise RuntimeError("rolled back")

    await database_sync_to_async(inside_a_rolled_back_transaction)()
    assert sent == []


async def test_a_transaction_pushes_each_change_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A report announces its host and the alert it fires announces the host again: one redraw.
    sent: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    monkeypatch.setattr(live, "_publish", lambda groups, event: sent.append((tuple(groups), event)))

    def announce_in_one_transaction() -> None:
        from django.db import transaction

        with transaction.atomic():
            host_changed.send(sender=Host, host_id=7)
            alerts_changed.send(sender=Host)
            host_changed.send(sender=Host, host_id=7)
            host_changed.send(sender=Host, host_id=8)
            assert sent == []  # nothing before the commit

    await database_sync_to_async(announce_in_one_transaction)()
    assert sent == [
        (("hosts", "host-7"), {"type": "host.updated", "host_id": 7}),
        (("alerts",), {"type": "alerts.changed"}),
        (("hosts", "host-8"), {"type": "host.updated", "host_id": 8}),
    ]


async def test_pushes_owed_by_a_rolled_back_transaction_do_not_leak_into_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(live, "_publish", lambda groups, event: sent.append(event))

    def rolled_back_then_committed() -> None:
        from django.db import transaction

        with pytest.raises(RuntimeError), transaction.atomic():
            host_changed.send(sender=Host, host_id=1)
            raise RuntimeError("rolled back")
        with transaction.atomic():
            host_changed.send(sender=Host, host_id=2)

    await database_sync_to_async(rolled_back_then_committed)()
    assert sent == [{"type": "host.updated", "host_id": 2}]


async def test_a_report_that_fires_an_alert_pushes_its_host_once(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    monkeypatch.setattr(live, "_publish", lambda groups, event: sent.append((tuple(groups), event)))

    def report_a_full_disk() -> tuple[int, int]:
        host = Host.objects.create(name="web-full")
        _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
        report = sample_report(datetime.now(UTC))
        for disk in report["disks"]:
            disk["percent"] = 97.0  # over the disk rule's critical level: fires at once
        response = Client().post(
            "/api/metrics/report", json.dumps(report), content_type="application/json", HTTP_X_API_KEY=key
        )
        return response.status_code, host.pk

    status, host_id = await database_sync_to_async(report_a_full_disk)()
    assert status == 202
    host_pushes = [event for groups, event in sent if event["type"] == "host.updated"]
    assert host_pushes == [{"type": "host.updated", "host_id": host_id}]
    assert (("alerts",), {"type": "alerts.changed"}) in sent  # the alert did change
