"""The dashboard WebSocket: who may connect, and what a report pushes."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from html import unescape as html_unescape
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client
from django.utils import timezone

from accounts.roles import VIEWER
from dashboard import live
from dashboard.consumers import DashboardConsumer, HostPageConsumer
from dashboard.models import LiveEvent
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.support import user_with_role

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def setup_host() -> tuple[User, Host, str]:
    user = user_with_role("viewer", VIEWER)
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
    # Swapped into every copy of the card (a grouped page shows a host once per tag).
    assert f"hx-swap-oob=\"outerHTML:[data-card='{host.pk}']\"" in html
    assert "42.5%" in html
    row = await communicator.receive_from(timeout=3)  # the same host as a table row, for the table view
    assert row.startswith(f'<tr id="host-row-{host.pk}" class="status-online"') and "42.5%" in row
    assert f"hx-swap-oob=\"outerHTML:[data-row='{host.pk}']\"" in row
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


async def connect_host_page(user: Any, name: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(HostPageConsumer.as_asgi(), f"/ws/hosts/{name}/")
    communicator.scope["user"] = user
    communicator.scope["url_route"] = {"kwargs": {"name": name}}
    return communicator


@pytest.fixture
def quiet_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the background status watch from pushing during a test that drives it by hand."""
    monkeypatch.setattr(live, "STATUS_WATCH_SECONDS", 3600)
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)


async def test_anonymous_host_page_socket_is_closed() -> None:
    communicator = await connect_host_page(AnonymousUser(), "web-1")
    assert await communicator.connect() == (False, 4401)


async def test_host_page_socket_for_unknown_host_is_closed(quiet_watch: None) -> None:
    user, _, _ = await database_sync_to_async(setup_host)()
    communicator = await connect_host_page(user, "nope")
    assert await communicator.connect() == (False, 4404)


async def test_report_pushes_host_page_summary_and_chart_point(make_report: Any, quiet_watch: None) -> None:
    user, _, key = await database_sync_to_async(setup_host)()
    communicator = await connect_host_page(user, "web-1")
    assert (await communicator.connect())[0]
    report = make_report()
    report["cpu"]["percent"] = 63.5
    assert await database_sync_to_async(post_report)(key, report) == 202
    html = await communicator.receive_from(timeout=3)
    assert '<section id="host-summary" class="panel" hx-swap-oob="true"' in html
    assert "63.5%" in html
    assert 'id="host-alerts"' in html
    point = json.loads(html_unescape(html.split('data-point="')[1].split('"')[0]))
    assert point["series"]["cpu_percent"] == [63.5]
    assert point["detail"]["disks"]["/data"] == [72.0]
    await communicator.disconnect()


async def test_host_page_does_not_hear_other_hosts(make_report: Any, quiet_watch: None) -> None:
    user, _, _ = await database_sync_to_async(setup_host)()
    other = await database_sync_to_async(Host.objects.create)(name="db-1")
    _, other_key = await database_sync_to_async(ApiKey.issue)(ApiKeyScope.AGENT, host=other)
    communicator = await connect_host_page(user, "web-1")
    assert (await communicator.connect())[0]
    assert await database_sync_to_async(post_report)(other_key, make_report()) == 202
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_sentiment_update_redraws_header_and_services_panel(quiet_watch: None) -> None:
    user, _, _ = await database_sync_to_async(setup_host)()
    communicator = await connect(user)
    assert (await communicator.connect())[0]
    await database_sync_to_async(sentiment_changed_in_a_transaction)()
    html = await communicator.receive_from(timeout=3)
    assert 'id="sentiment" class="summary" hx-swap-oob="true"' in html
    assert 'id="services-panel" class="panel" hx-swap-oob="true"' in html
    assert "No service has reported its health yet" in html
    await communicator.disconnect()


@pytest.mark.parametrize(("path", "grouped"), [("/ws/dashboard/?group=tag", True), ("/ws/dashboard/", False)])
async def test_a_grouped_page_gets_each_groups_status_with_the_header(
    quiet_watch: None, path: str, grouped: bool
) -> None:
    user, host, _ = await database_sync_to_async(setup_host)()
    await database_sync_to_async(Host.objects.filter(pk=host.pk).update)(tags=["prod"])
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), path)
    communicator.scope["user"] = user
    assert (await communicator.connect())[0]
    await database_sync_to_async(sentiment_changed_in_a_transaction)()
    assert 'id="sentiment"' in await communicator.receive_from(timeout=3)
    if grouped:
        html = await communicator.receive_from(timeout=3)
        assert html.startswith('<span id="group-status-t') and 'hx-swap-oob="true" data-worst="offline"' in html
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


def sentiment_changed_in_a_transaction() -> None:
    from django.db import transaction

    with transaction.atomic():
        live.sentiment_changed()


async def test_host_going_quiet_turns_its_card_offline_without_a_report(make_report: Any, quiet_watch: None) -> None:
    user, host, key = await database_sync_to_async(setup_host)()
    assert await database_sync_to_async(post_report)(key, make_report()) == 202
    communicator = await connect(user)
    assert (await communicator.connect())[0]
    statuses = await live.publish_status_changes(None)
    assert statuses == {host.pk: "online"}
    assert await communicator.receive_nothing(timeout=0.2)

    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        statuses = await live.publish_status_changes(statuses)
        card = await communicator.receive_from(timeout=3)
        row = await communicator.receive_from(timeout=3)
        header = await communicator.receive_from(timeout=3)
    assert statuses == {host.pk: "offline"}
    assert f'id="host-{host.pk}"' in card
    assert "status-offline" in card
    assert row.startswith(f'<tr id="host-row-{host.pk}"') and "status-offline" in row
    assert 'id="sentiment"' in header and "badge-unhealthy" in header
    await communicator.disconnect()


async def test_unchanged_statuses_push_nothing(make_report: Any, quiet_watch: None) -> None:
    user, _, key = await database_sync_to_async(setup_host)()
    assert await database_sync_to_async(post_report)(key, make_report()) == 202
    communicator = await connect(user)
    assert (await communicator.connect())[0]
    statuses = await live.publish_status_changes(None)
    await live.publish_status_changes(statuses)
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_status_watch_runs_in_the_web_process_once_a_socket_opens(
    make_report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "STATUS_WATCH_SECONDS", 0.05)
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    user, host, key = await database_sync_to_async(setup_host)()
    assert await database_sync_to_async(post_report)(key, make_report()) == 202
    communicator = await connect(user)
    assert (await communicator.connect())[0]
    await asyncio.sleep(0.2)  # the watch takes its first look
    await database_sync_to_async(Host.objects.filter(pk=host.pk).update)(last_seen=timezone.now() - timedelta(hours=1))
    card = await communicator.receive_from(timeout=3)
    assert "status-offline" in card
    await communicator.disconnect()


@pytest.mark.redis
async def test_status_change_reaches_a_host_page_through_redis(make_report: Any, quiet_watch: None) -> None:
    from django.test import override_settings

    from conftest import REDIS_TEST_URL

    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_TEST_URL], "prefix": "statusdash-test"},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        user, host, key = await database_sync_to_async(setup_host)()
        assert await database_sync_to_async(post_report)(key, make_report()) == 202
        communicator = await connect_host_page(user, "web-1")
        assert (await communicator.connect())[0]
        with time_machine.travel(timezone.now() + timedelta(minutes=5)):
            await live.publish_status_changes({host.pk: "online"})
            html = await communicator.receive_from(timeout=5)
        assert '<section id="host-summary"' in html and "badge-offline" in html
        await communicator.disconnect()


def log_in_session(user: User) -> Any:
    """A real session for `user`, as the log-in view leaves it."""
    browser = Client()
    browser.force_login(user)
    from django.contrib.sessions.backends.db import SessionStore

    return SessionStore(session_key=browser.cookies["sessionid"].value)


def log_out(session: Any, user: User) -> None:
    from django.contrib.auth import logout
    from django.test import RequestFactory

    request = RequestFactory().post("/logout/")
    request.session = session
    request.user = user
    logout(request)


async def open_with_session(user: User, session: Any) -> WebsocketCommunicator:
    communicator = await connect(user)
    communicator.scope["session"] = session
    assert (await communicator.connect())[0]
    return communicator


async def test_logging_out_closes_that_sessions_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    user, _, _ = await database_sync_to_async(setup_host)()
    session = await database_sync_to_async(log_in_session)(user)
    other_session = await database_sync_to_async(log_in_session)(user)
    mine = await open_with_session(user, session)
    other = await open_with_session(user, other_session)
    await database_sync_to_async(log_out)(session, user)
    assert await mine.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
    assert await other.receive_nothing(timeout=0.3)  # another browser's log-in is not ended
    await other.disconnect()


async def test_deactivating_a_user_closes_all_their_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    user, _, _ = await database_sync_to_async(setup_host)()
    session = await database_sync_to_async(log_in_session)(user)
    communicator = await open_with_session(user, session)

    def deactivate() -> None:
        user.is_active = False
        user.save()

    await database_sync_to_async(deactivate)()
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_a_new_password_closes_all_their_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    user, _, _ = await database_sync_to_async(setup_host)()
    communicator = await open_with_session(user, await database_sync_to_async(log_in_session)(user))

    def change_password() -> None:
        user.set_password("a brand new passphrase")
        user.save()

    await database_sync_to_async(change_password)()
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_a_session_that_owes_its_second_factor_gets_no_socket() -> None:
    from accounts.tests.totp import enroll

    user, _, _ = await database_sync_to_async(setup_host)()
    session = await database_sync_to_async(log_in_session)(user)
    await database_sync_to_async(enroll)(user)  # in another browser, after this session began
    communicator = await connect(user)
    communicator.scope["session"] = session
    connected, code = await communicator.connect()
    assert not connected and code == 4401


async def test_a_user_who_must_enroll_gets_no_socket(settings: Any) -> None:
    settings.REQUIRE_2FA = "all"
    user, _, _ = await database_sync_to_async(setup_host)()
    communicator = await connect(user)
    communicator.scope["session"] = await database_sync_to_async(log_in_session)(user)
    connected, code = await communicator.connect()
    assert not connected and code == 4401
