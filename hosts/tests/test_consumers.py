"""The dashboard WebSocket: who may connect, and what a report pushes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client

from hosts.consumers import DashboardConsumer
from hosts.models import ApiKey, ApiKeyScope, Host, LiveEvent
from statusdash import live

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def setup_host() -> tuple[User, Host, str]:
    user = User.objects.create_user("viewer", password="pw-viewer-123")
    host = Host.objects.create(name="web-1")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    return user, host, key


def post_report(key: str, report: dict[str, Any]) -> int:
    response = Client().post(
        "/api/metrics/report", json.dumps(report), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    return response.status_code


async def connect(user: Any) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
    communicator.scope["user"] = user
    return communicator


async def test_anonymous_socket_is_closed() -> None:
    communicator = await connect(AnonymousUser())
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401


async def test_report_pushes_the_host_card(make_report: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    user, host, key = await database_sync_to_async(setup_host)()
    communicator = await connect(user)
    connected, _ = await communicator.connect()
    assert connected
    report = make_report()
    report["cpu"]["percent"] = 42.5
    assert await database_sync_to_async(post_report)(key, report) == 202
    html = await communicator.receive_from(timeout=3)
    assert f'id="host-{host.pk}"' in html
    assert 'hx-swap-oob="true"' in html
    assert "42.5%" in html
    await communicator.disconnect()


async def test_push_from_another_process_goes_through_the_outbox(
    make_report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without Redis a Celery worker cannot reach the web process's in-memory layer:
    # it writes outbox rows, and the web process relays them.
    monkeypatch.setattr(live, "IN_WEB_PROCESS", False)
    monkeypatch.setattr(live, "OUTBOX_POLL_SECONDS", 0.05)
    user, host, key = await database_sync_to_async(setup_host)()
    communicator = await connect(user)
    assert (await communicator.connect())[0]
    assert await database_sync_to_async(post_report)(key, make_report()) == 202
    html = await communicator.receive_from(timeout=3)
    assert f'id="host-{host.pk}"' in html
    assert await database_sync_to_async(LiveEvent.objects.count)() == 0
    await communicator.disconnect()


async def test_html_in_host_names_is_escaped(make_report: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    user, host, key = await database_sync_to_async(setup_host)()
    host.display_name = "<script>alert(1)</script>"
    await database_sync_to_async(host.save)()
    communicator = await connect(user)
    assert (await communicator.connect())[0]
    assert await database_sync_to_async(post_report)(key, make_report()) == 202
    html = await communicator.receive_from(timeout=3)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    await communicator.disconnect()
