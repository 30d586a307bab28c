"""The alerts page: firing first, filters in the URL, htmx rows, bad filters refused."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.roles import VIEWER
from alerts.models import Alert, Severity
from dashboard.alert_views import PAGE_SIZE
from hosts.models import Host
from statusdash.tests.support import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(viewer_client: Client) -> Client:
    return viewer_client


@pytest.fixture
def alerts(host: Host) -> None:
    db = Host.objects.create(name="db-1")
    Alert.objects.fire("cpu_high", host=host, message="cpu at 97%", severity=Severity.CRITICAL)
    Alert.objects.fire("disk_full", host=db, subject="/data", message="disk at 93%")
    Alert.objects.fire("memory_high", host=host, message="memory at 90%")
    Alert.objects.resolve("memory_high", host=host)


def test_alerts_page_needs_login(client: Client) -> None:
    assert client.get("/alerts/")["Location"] == "/login/?next=/alerts/"


def test_alerts_page_lists_firing_before_resolved(viewer: Client, alerts: None) -> None:
    html = viewer.get("/alerts/").content.decode()
    assert html.index("disk at 93%") < html.index("memory at 90%")
    assert html.index("cpu at 97%") < html.index("memory at 90%")
    assert "3 alerts" in html


def test_filter_by_state(viewer: Client, alerts: None) -> None:
    html = viewer.get("/alerts/?state=resolved").content.decode()
    assert "memory at 90%" in html and "cpu at 97%" not in html


def test_filter_by_severity_host_and_text(viewer: Client, alerts: None) -> None:
    assert "disk at 93%" not in viewer.get("/alerts/?severity=critical").content.decode()
    html = viewer.get("/alerts/?host=db-1").content.decode()
    assert "disk at 93%" in html and "cpu at 97%" not in html
    html = viewer.get("/alerts/?q=/DATA").content.decode()
    assert "disk at 93%" in html and "memory at 90%" not in html


def test_htmx_request_gets_the_list_alone(viewer: Client, alerts: None) -> None:
    html = viewer.get("/alerts/?state=firing", HTTP_HX_REQUEST="true").content.decode()
    assert html.startswith('<section id="alert-list"')
    assert "<html" not in html


def test_unknown_state_is_refused_naming_the_field(viewer: Client) -> None:
    response = viewer.get("/alerts/?state=asleep")
    assert response.status_code == 400
    assert "state" in response.content.decode() and "Select a valid choice" in response.content.decode()


def test_bad_page_number_is_refused(viewer: Client) -> None:
    response = viewer.get("/alerts/?page=0")
    assert response.status_code == 400
    assert "page" in response.content.decode()


def test_long_lists_are_paged_keeping_the_filter(viewer: Client, host: Host) -> None:
    Alert.objects.bulk_create(
        [Alert(host=host, rule="flap", subject=str(i), state="resolved") for i in range(PAGE_SIZE + 5)]
    )
    first = viewer.get("/alerts/?state=resolved").content.decode()
    assert "page 1 of 2" in first
    assert 'href="?state=resolved&amp;page=2"' in first
    assert viewer.get("/alerts/?state=resolved&page=2").content.decode().count('<tr id="alert-') == 5


def test_nothing_matching_says_so(viewer: Client) -> None:
    assert "No alert matches." in viewer.get("/alerts/").content.decode()


def test_an_alert_shows_what_it_is_about(viewer: Client, host: Host) -> None:
    Alert.objects.fire("health-billing-api", service="billing-api", subject="billing-api", message="service down")
    Alert.objects.fire("certificate_expiring", subject="hub.crt", message="hub certificate")
    rows = viewer.get("/alerts/").content.decode()
    assert "<td>service billing-api</td>" in rows
    assert "<td>hub</td>" in rows


def test_alert_messages_are_escaped(viewer: Client, host: Host) -> None:
    Alert.objects.fire("x", host=host, message="<b>bold</b>")
    html = viewer.get("/alerts/").content.decode()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_alert_change_tells_the_open_alerts_page_to_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.db import transaction

    from dashboard import live
    from dashboard.alert_consumers import AlertsConsumer

    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    monkeypatch.setattr(live, "STATUS_WATCH_SECONDS", 3600)
    user = await database_sync_to_async(user_with_role)("watcher", VIEWER)
    communicator = WebsocketCommunicator(AlertsConsumer.as_asgi(), "/ws/alerts/")
    communicator.scope["user"] = user
    assert (await communicator.connect())[0]

    def fire() -> None:
        with transaction.atomic():
            live.alerts_changed()

    await database_sync_to_async(fire)()
    assert await communicator.receive_from(timeout=3) == '<div id="live-refresh" hx-swap-oob="true" hidden></div>\n'
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_alerts_socket_refuses_anonymous_visitors() -> None:
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import AnonymousUser

    from dashboard.alert_consumers import AlertsConsumer

    communicator = WebsocketCommunicator(AlertsConsumer.as_asgi(), "/ws/alerts/")
    communicator.scope["user"] = AnonymousUser()
    assert await communicator.connect() == (False, 4401)
