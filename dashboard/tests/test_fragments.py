"""Cards and rows rendered once per change of their host: what is served from the cache, what is not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.test.signals import template_rendered
from django.utils import timezone

from alerts.models import Alert
from dashboard.consumers import render_card_and_row
from dashboard.tests.test_views import make_hosts, report_for
from hosts.models import Host

pytestmark = pytest.mark.django_db


class Renders:
    """How often each template was rendered (Django's test instrumentation announces every one)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, sender: Any, template: Any, **kwargs: Any) -> None:
        self.names.append(template.name)

    def of(self, name: str) -> int:
        return self.names.count(name)

    def reset(self) -> None:
        self.names.clear()


@pytest.fixture
def renders() -> Iterator[Renders]:
    counter = Renders()
    template_rendered.connect(counter)
    yield counter
    template_rendered.disconnect(counter)


CARD = "hosts/_host_card.html"
ROW = "hosts/_host_row.html"


@pytest.mark.parametrize(("view", "template"), [("cards", CARD), ("table", ROW)])
def test_unchanged_hosts_are_served_from_the_cache(
    viewer_client: Client, renders: Renders, view: str, template: str
) -> None:
    make_hosts(3)
    first = viewer_client.get(f"/?view={view}").content.decode()
    assert renders.of(template) == 3
    renders.reset()
    again = viewer_client.get(f"/?view={view}").content.decode()
    assert renders.of(template) == 0
    assert again.count('data-host="h-') == 3 and "h-002" in again
    assert first.count("data-ago") == again.count("data-ago") == 3


def test_every_user_gets_the_same_cached_card(viewer_client: Client, renders: Renders) -> None:
    # Cards and rows show nothing that depends on who looks (no role-based buttons): shared by all.
    make_hosts(2)
    as_viewer = viewer_client.get("/?view=cards").content.decode()
    admin = Client()
    admin.force_login(User.objects.create_superuser("admin", password="pw-admin-123"))
    renders.reset()
    as_admin = admin.get("/?view=cards").content.decode()
    assert renders.of(CARD) == 0
    first_card = re.compile(r"<article .*?</article>", re.S)
    assert first_card.findall(as_admin) == first_card.findall(as_viewer) != []


def test_a_host_that_reported_is_rendered_again_alone(viewer_client: Client, renders: Renders) -> None:
    hosts = make_hosts(3)
    viewer_client.get("/?view=cards")
    report_for(hosts[1], percent=77.7)
    renders.reset()
    html = viewer_client.get("/?view=cards").content.decode()
    assert renders.of(CARD) == 1
    assert "77.7%" in html


def test_a_new_firing_alert_renders_the_card_again(viewer_client: Client, renders: Renders) -> None:
    (host,) = make_hosts(1)
    viewer_client.get("/?view=cards")
    Alert.objects.fire("cpu_high", host=host, message="hot")
    renders.reset()
    html = viewer_client.get("/?view=cards").content.decode()
    assert renders.of(CARD) == 1 and "1 alert" in html


def test_a_renamed_host_is_rendered_again(viewer_client: Client, renders: Renders) -> None:
    (host,) = make_hosts(1)
    viewer_client.get("/?view=cards")
    Host.objects.filter(pk=host.pk).update(display_name="Front door")
    renders.reset()
    assert "Front door" in viewer_client.get("/?view=cards").content.decode()
    assert renders.of(CARD) == 1


def test_a_host_going_stale_with_time_is_rendered_again(viewer_client: Client, renders: Renders) -> None:
    make_hosts(2)
    viewer_client.get("/?view=table")
    renders.reset()
    with time_machine.travel(timezone.now() + timedelta(seconds=45)):
        html = viewer_client.get("/?view=table").content.decode()
    assert renders.of(ROW) == 2
    assert html.count('class="badge badge-stale"') == 2


def test_last_seen_wording_is_current_though_the_card_is_cached(viewer_client: Client, renders: Renders) -> None:
    (host,) = make_hosts(1)
    Host.objects.filter(pk=host.pk).update(last_seen=timezone.now() - timedelta(seconds=3))
    viewer_client.get("/?view=cards")
    renders.reset()
    with time_machine.travel(timezone.now() + timedelta(seconds=20)):
        html = viewer_client.get("/?view=cards").content.decode()
    assert renders.of(CARD) == 0
    assert "data-ago>23 s ago</time>" in html or "data-ago>24 s ago</time>" in html


def test_a_name_holding_the_marker_is_shown_escaped_not_replaced(viewer_client: Client) -> None:
    (host,) = make_hosts(1)
    Host.objects.filter(pk=host.pk).update(display_name="<!--seen-ago--><b>x</b>")
    html = viewer_client.get("/?view=cards").content.decode()
    assert "&lt;!--seen-ago--&gt;&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


def test_a_push_renders_once_for_every_open_socket(renders: Renders) -> None:
    (host,) = make_hosts(1)
    pushes = [render_card_and_row(host.pk) for _ in range(5)]
    assert renders.of(CARD) == renders.of(ROW) == 1
    assert all(push == pushes[0] for push in pushes)
    assert "hx-swap-oob" in pushes[0][0]
