"""The wall's WebSocket: a session or a read key lets it in, and it redraws when what the wall shows changes."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.roles import VIEWER
from alerts.models import Alert
from dashboard import live, wall_consumers
from dashboard.tests.test_consumers import post_report
from dashboard.wall_consumers import WallConsumer
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.support import user_with_role

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background status watch or periodic refresh unless a test turns it on; quick coalescing."""
    monkeypatch.setattr(live, "STATUS_WATCH_SECONDS", 3600)
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    monkeypatch.setattr(wall_consumers, "WALL_REFRESH_SECONDS", 3600)
    monkeypatch.setattr(wall_consumers, "WALL_COALESCE_SECONDS", 0.05)


def fleet() -> dict[str, Any]:
    """Two hosts that just reported, their agent keys, a user and a read key."""
    keys = {}
    for name in ("web-1", "db-1"):
        host = Host.objects.create(name=name)
        keys[name] = ApiKey.issue(ApiKeyScope.AGENT, host=host)[1]
    return {
        "user": user_with_role("viewer", VIEWER),
        "agent_keys": keys,
        "read_key": ApiKey.issue(ApiKeyScope.READ, label="lobby screen")[1],
    }


def socket(query: str = "", user: Any = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(WallConsumer.as_asgi(), f"/ws/wall/{query}")
    communicator.scope["user"] = user or AnonymousUser()
    return communicator


async def report_all(actors: dict[str, Any], make_report: Any) -> None:
    for key in actors["agent_keys"].values():
        assert await database_sync_to_async(post_report)(key, make_report()) == 202


def rows(html: str) -> list[tuple[str, str]]:
    """(section, host) for each problem row, top to bottom."""
    found = []
    for section, body in re.findall(r'data-section="([a-z]+)"(.*?)</section>', html, re.S):
        found += [(section, name) for name in re.findall(r'data-host="([^"]+)"', body)]
    return found


async def test_a_read_key_lets_the_socket_in_and_a_host_going_offline_moves_it_to_the_top(make_report: Any) -> None:
    actors = await database_sync_to_async(fleet)()
    await report_all(actors, make_report)
    communicator = socket(f"?token={actors['read_key']}")
    assert (await communicator.connect())[0]
    statuses = await live.publish_status_changes(None)
    # db-1 falls silent; web-1 keeps reporting.
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        web = await database_sync_to_async(Host.objects.get)(name="web-1")
        await database_sync_to_async(Host.objects.filter(pk=web.pk).update)(last_seen=timezone.now())
        await live.publish_status_changes(statuses)
        html = await communicator.receive_from(timeout=3)
    assert html.startswith('<div id="wall-board" class="wall-board" hx-swap-oob="true">')
    assert rows(html) == [("offline", "db-1")]
    assert "web-1" in html[html.index("wall-healthy") :]
    await communicator.disconnect()


async def test_a_session_lets_the_socket_in_and_a_firing_alert_redraws(make_report: Any) -> None:
    actors = await database_sync_to_async(fleet)()
    await report_all(actors, make_report)
    communicator = socket(user=actors["user"])
    assert (await communicator.connect())[0]
    web = await database_sync_to_async(Host.objects.get)(name="web-1")
    await database_sync_to_async(Alert.objects.fire)("cpu_high", host=web, message="hot")
    await database_sync_to_async(live.host_updated)(web.pk)
    html = await communicator.receive_from(timeout=3)
    assert rows(html) == [("firing", "web-1")]
    await communicator.disconnect()


async def test_a_report_that_changes_nothing_on_the_wall_pushes_nothing(make_report: Any) -> None:
    actors = await database_sync_to_async(fleet)()
    await report_all(actors, make_report)
    communicator = socket(f"?token={actors['read_key']}")
    assert (await communicator.connect())[0]
    await report_all(actors, make_report)  # both stay healthy
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_a_burst_of_changes_is_one_redraw(make_report: Any) -> None:
    actors = await database_sync_to_async(fleet)()
    communicator = socket(f"?token={actors['read_key']}")
    assert (await communicator.connect())[0]
    await report_all(actors, make_report)  # two never-seen hosts come online at once
    html = await communicator.receive_from(timeout=3)
    assert rows(html) == [] and "<strong>2</strong> healthy" in html
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_the_wall_refreshes_itself_and_a_revoked_key_closes_its_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wall_consumers, "WALL_REFRESH_SECONDS", 0.2)
    actors = await database_sync_to_async(fleet)()
    communicator = socket(f"?token={actors['read_key']}")
    assert (await communicator.connect())[0]
    assert 'id="wall-board"' in await communicator.receive_from(timeout=3)
    key = await database_sync_to_async(ApiKey.objects.get)(scope=ApiKeyScope.READ)
    await database_sync_to_async(key.revoke)()
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
    await communicator.disconnect()


@pytest.mark.parametrize("token", ["garbage", "sd_not-a-key", ""])
async def test_a_socket_with_an_unknown_token_is_refused(token: str) -> None:
    await database_sync_to_async(fleet)()
    assert await socket(f"?token={token}").connect() == (False, 4403)


async def test_a_socket_with_an_agent_key_is_refused() -> None:
    actors = await database_sync_to_async(fleet)()
    assert await socket(f"?token={actors['agent_keys']['web-1']}").connect() == (False, 4403)


async def test_a_socket_with_a_revoked_key_is_refused() -> None:
    actors = await database_sync_to_async(fleet)()
    key = await database_sync_to_async(ApiKey.objects.get)(scope=ApiKeyScope.READ)
    await database_sync_to_async(key.revoke)()
    assert await socket(f"?token={actors['read_key']}").connect() == (False, 4403)


async def test_a_bad_token_is_refused_even_with_a_session() -> None:
    actors = await database_sync_to_async(fleet)()
    assert await socket("?token=garbage", user=actors["user"]).connect() == (False, 4403)


async def test_an_anonymous_socket_without_a_token_is_refused() -> None:
    assert await socket().connect() == (False, 4401)


async def test_events_for_other_pages_are_not_sent_on(make_report: Any) -> None:
    actors = await database_sync_to_async(fleet)()
    communicator = socket(f"?token={actors['read_key']}")
    assert (await communicator.connect())[0]
    await get_channel_layer().group_send(live.hosts_group(), {"type": "hosts.something_else", "html": "<p>secret</p>"})
    assert await communicator.receive_nothing(timeout=0.3)
    # Still open and listening.
    await get_channel_layer().group_send(live.hosts_group(), {"type": "sentiment.updated"})
    assert 'id="wall-board"' in await communicator.receive_from(timeout=3)
    await communicator.disconnect()


async def test_open_walls_share_one_render_per_change(make_report: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    renders = []
    real_render = wall_consumers.render_board

    def counted() -> tuple[str, dict[int, Any]]:
        renders.append(1)
        return real_render()

    monkeypatch.setattr(wall_consumers, "render_board", counted)
    actors = await database_sync_to_async(fleet)()
    walls = [socket(f"?token={actors['read_key']}"), socket(user=actors["user"]), socket(user=actors["user"])]
    for communicator in walls:
        assert (await communicator.connect())[0]
    await report_all(actors, make_report)
    boards = [await communicator.receive_from(timeout=3) for communicator in walls]
    assert len(set(boards)) == 1 and "<strong>2</strong> healthy" in boards[0]
    assert len(renders) == 1
    for communicator in walls:
        await communicator.disconnect()


async def test_a_change_while_a_board_is_being_sent_gets_a_board_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    actors = await database_sync_to_async(fleet)()
    communicator = socket(f"?token={actors['read_key']}")
    assert (await communicator.connect())[0]
    web = await database_sync_to_async(Host.objects.get)(name="web-1")
    real_send = WallConsumer.send_html
    sent: list[str] = []

    async def slow_first_send(self: WallConsumer, html: str | None) -> None:
        if not sent:
            sent.append(html or "")
            # An alert fires and is pushed after this board was read, before it is on the wire.
            await database_sync_to_async(Alert.objects.fire)("cpu_high", host=web, message="hot")
            await get_channel_layer().group_send(live.hosts_group(), {"type": "host.updated", "host_id": web.pk})
            await asyncio.sleep(0.3)  # the consumer handles that push meanwhile
        await real_send(self, html)

    monkeypatch.setattr(WallConsumer, "send_html", slow_first_send)
    await get_channel_layer().group_send(live.hosts_group(), {"type": "sentiment.updated"})
    assert "cpu_high" not in await communicator.receive_from(timeout=3)
    # Both hosts never reported (offline); web-1 now with its alert.
    assert "cpu_high" in await communicator.receive_from(timeout=3)
    await communicator.disconnect()
