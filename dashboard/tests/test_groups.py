"""The overview grouped by tag: a group per tag, hosts in each of theirs, the group's status, remembered."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dashboard import groups
from dashboard.consumers import render_group_statuses
from dashboard.tests.test_views import report_for
from hosts.models import Host

pytestmark = pytest.mark.django_db


def grouped(html: str) -> dict[str, list[str]]:
    """{group label: host names in it} as the page shows them."""
    found = {}
    for label, body in re.findall(
        r'<details class="host-group[^"]*"[^>]*>\s*<summary><span class="group-name">([^<]+)</span>(.*?)</details>',
        html,
        re.S,
    ):
        found[label] = re.findall(r'data-host="([^"]+)"', body)
    return found


@pytest.fixture
def fleet() -> dict[str, Host]:
    hosts = {
        name: Host.objects.create(name=name, tags=tags)
        for name, tags in (("web-1", ["prod", "web"]), ("db-1", ["prod", "db"]), ("lab", []))
    }
    for host in hosts.values():
        report_for(host)
    Host.objects.filter(name="db-1").update(last_seen=timezone.now() - timedelta(minutes=5))
    return hosts


@pytest.mark.parametrize("view", ["cards", "table"])
def test_hosts_appear_in_each_of_their_tags_groups_untagged_last(
    viewer_client: Client, fleet: dict[str, Host], view: str
) -> None:
    html = viewer_client.get(f"/?group=tag&view={view}").content.decode()
    assert grouped(html) == {"db": ["db-1"], "prod": ["db-1", "web-1"], "web": ["web-1"], "untagged": ["lab"]}
    assert html.count("<details") == 4 and html.count(" open>") == 4


def test_a_group_shows_its_worst_status_and_counts(viewer_client: Client, fleet: dict[str, Host]) -> None:
    html = viewer_client.get("/?group=tag").content.decode()
    prod = html[html.index('data-group="prod"') :]
    prod = prod[: prod.index("</summary>")]
    assert 'data-worst="offline"' in prod
    assert '<span class="count count-offline">1 offline</span>' in prod
    assert '<span class="count count-online">1 online</span>' in prod
    web = html[html.index('data-group="web"') :]
    assert 'data-worst="online"' in web[: web.index("</summary>")]


def test_a_group_keeps_its_status_over_all_its_hosts_when_filtered(
    viewer_client: Client, fleet: dict[str, Host]
) -> None:
    html = viewer_client.get("/?group=tag&status=online").content.decode()
    assert grouped(html) == {"prod": ["web-1"], "web": ["web-1"], "untagged": ["lab"]}
    prod = html[html.index('data-group="prod"') :]
    assert "1 offline" in prod[: prod.index("</summary>")]


def test_grouping_is_remembered_and_kept_by_the_links(viewer_client: Client, fleet: dict[str, Host]) -> None:
    viewer_client.get("/?group=tag&view=table")
    html = viewer_client.get("/?sort=cpu").content.decode()
    assert set(grouped(html)) == {"db", "prod", "web", "untagged"}
    assert 'href="?sort=-cpu&amp;group=tag' not in html  # the session remembers; the URL need not say it
    assert 'ws-connect="/ws/dashboard/?group=tag"' in html
    html = viewer_client.get("/?group=none&tag=prod").content.decode()
    assert "<details" not in html
    assert '<a href="?group=tag&amp;tag=prod" data-group="tag">' in html


def test_the_htmx_fragment_swaps_group_headers_in_place(viewer_client: Client, fleet: dict[str, Host]) -> None:
    # An out-of-band header inside the swapped grid would be pulled out of it by htmx.
    html = viewer_client.get("/?group=tag", HTTP_HX_REQUEST="true").content.decode()
    assert len(grouped(html)) == 4
    assert re.findall(r'<span id="group-status-[^"]+" class="group-status"( hx-swap-oob)?', html) == [""] * 4


def test_a_bad_grouping_is_refused_naming_the_field(viewer_client: Client) -> None:
    response = viewer_client.get("/?group=owner")
    assert response.status_code == 400
    assert "group" in response.content.decode() and "owner is not one of the available choices" in (
        response.content.decode()
    )


def test_the_status_push_redraws_every_groups_status(fleet: dict[str, Host]) -> None:
    html = render_group_statuses()
    ids = re.findall(r'<span id="group-status-([^"]+)" class="group-status" hx-swap-oob="true"', html)
    assert sorted(ids) == sorted(groups.dom_key(tag) for tag in ("prod", "web", "db", ""))


def test_group_order_and_membership() -> None:
    shown = [
        {"name": "a", "tags": ["z", "b"], "status": "online"},
        {"name": "b", "tags": [], "status": "offline"},
        {"name": "c", "tags": ["b", "b"], "status": "stale"},
    ]
    assert [(tag, [h["name"] for h in hosts]) for tag, hosts in groups.group(shown)] == [
        ("b", ["a", "c"]),
        ("z", ["a"]),
        ("", ["b"]),
    ]
    headers = groups.summaries(shown)
    assert headers["b"]["worst"] == "stale" and headers["b"]["counts"] == [("stale", 1), ("online", 1)]
    assert headers[""]["label"] == "untagged" and headers[""]["worst"] == "offline"
