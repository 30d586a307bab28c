"""The wall screen's page: who may see it (a session or a read key in the URL), problems first, the same queries at any size."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, Severity
from dashboard import wall
from dashboard.tests.test_views import make_hosts, report_for
from hosts.models import ApiKey, ApiKeyScope, Host

pytestmark = pytest.mark.django_db


def sections(html: str) -> list[str]:
    return re.findall(r'data-section="([a-z]+)"', html)


def rows(html: str) -> list[str]:
    """The problem hosts' names, top to bottom."""
    return re.findall(r'<li id="wall-host-\d+"[^>]*data-host="([^"]+)"', html)


def healthy_strip(html: str) -> list[str]:
    strip = html[html.index('class="wall-healthy"') :]
    return re.findall(r"<li>([^<]+)</li>", strip)


def a_fleet() -> None:
    """Named so that the alphabet would put every section in the wrong order."""
    ok, late, hot, down = Host.objects.bulk_create(
        [Host(name="aa-ok"), Host(name="bb-late"), Host(name="cc-hot"), Host(name="dd-down")]
    )
    report_for(ok)
    report_for(late, seconds_ago=45)  # stale: 3 to 6 missed 10 s reports
    report_for(hot)
    report_for(down, seconds_ago=600)
    Alert.objects.fire("cpu_high", host=hot, message="CPU at 97%")


# --- who may see it ---------------------------------------------------------------


def test_a_logged_in_user_sees_the_wall(viewer_client: Client) -> None:
    response = viewer_client.get("/wall/")
    assert response.status_code == 200
    assert 'id="wall-board"' in response.content.decode()


def test_an_anonymous_visitor_without_a_token_is_sent_to_login(client: Client) -> None:
    response = client.get("/wall/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/wall/"


def test_a_read_key_in_the_url_shows_the_wall_without_a_login(client: Client, read_key: str) -> None:
    response = client.get(f"/wall/?token={read_key}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="wall-board"' in html
    # The page's socket carries the same key, or it could not be let in.
    assert f'ws-connect="/ws/wall/?token={read_key}"' in html
    assert "no-store" in response["Cache-Control"]
    assert '<meta name="referrer" content="no-referrer">' in html


def test_a_read_key_records_its_use(client: Client, read_key: str) -> None:
    client.get(f"/wall/?token={read_key}")
    assert ApiKey.objects.get(scope=ApiKeyScope.READ).last_used_at is not None


def test_an_agent_key_is_refused(client: Client, agent_key: str) -> None:
    response = client.get(f"/wall/?token={agent_key}")
    assert response.status_code == 403
    assert "cannot read this; use a read key" in response.content.decode()


def test_a_service_key_is_refused(client: Client) -> None:
    _, raw = ApiKey.issue(ApiKeyScope.SERVICE, service="billing")
    assert client.get(f"/wall/?token={raw}").status_code == 403


def test_a_revoked_read_key_is_refused(client: Client) -> None:
    key, raw = ApiKey.issue(ApiKeyScope.READ)
    key.revoke()
    response = client.get(f"/wall/?token={raw}")
    assert response.status_code == 403
    assert "revoked" in response.content.decode()


@pytest.mark.parametrize("token", ["garbage", "sd_not-a-key", "", "sd_" + "x" * 500, "%00"])
def test_an_unknown_token_is_refused(client: Client, token: str) -> None:
    response = client.get("/wall/", {"token": token})
    assert response.status_code == 403
    assert "unknown API key" in response.content.decode()
    assert 'id="wall-board"' not in response.content.decode()


def test_a_bad_token_is_refused_even_with_a_session(viewer_client: Client) -> None:
    # The screen would go dark when the session ends: better to say so now.
    assert viewer_client.get("/wall/?token=garbage").status_code == 403


def test_only_get_is_allowed(viewer_client: Client) -> None:
    assert viewer_client.post("/wall/").status_code == 405


# --- what it shows ------------------------------------------------------------


def test_problems_come_first_offline_then_firing_then_stale(viewer_client: Client) -> None:
    a_fleet()
    html = viewer_client.get("/wall/").content.decode()
    assert sections(html) == ["offline", "firing", "stale"]
    assert rows(html) == ["dd-down", "cc-hot", "bb-late"]
    assert healthy_strip(html) == ["aa-ok"]
    assert "<strong>1</strong> healthy" in html
    assert "cpu_high" in html
    assert "sentiment-degraded" in html


def test_an_offline_host_with_firing_alerts_shows_once_as_offline(viewer_client: Client) -> None:
    (down,) = make_hosts(1, "down")
    Host.objects.filter(pk=down.pk).update(last_seen=timezone.now() - timedelta(hours=1))
    Alert.objects.fire("host_offline", host=down, severity=Severity.CRITICAL)
    html = viewer_client.get("/wall/").content.decode()
    assert sections(html) == ["offline"]
    assert rows(html) == ["down-000"]


def test_within_a_section_the_newest_outage_and_critical_alerts_come_first(viewer_client: Client) -> None:
    old, new, _never, warm, hot = Host.objects.bulk_create(
        [Host(name="a-old"), Host(name="b-new"), Host(name="c-never"), Host(name="d-warm"), Host(name="e-hot")]
    )
    report_for(old, seconds_ago=7200)
    report_for(new, seconds_ago=300)
    report_for(warm)
    report_for(hot)
    Alert.objects.fire("memory_high", host=warm)
    Alert.objects.fire("disk_full", host=hot, severity=Severity.CRITICAL)
    html = viewer_client.get("/wall/").content.decode()
    assert rows(html) == ["b-new", "a-old", "c-never", "e-hot", "d-warm"]


def test_a_healthy_fleet_says_so(viewer_client: Client) -> None:
    make_hosts(3)
    html = viewer_client.get("/wall/").content.decode()
    assert sections(html) == []
    assert "No problems" in html and "sentiment-healthy" in html
    assert healthy_strip(html) == ["h-000", "h-001", "h-002"]


def test_disabled_hosts_are_not_on_the_wall(viewer_client: Client) -> None:
    Host.objects.create(name="retired", enabled=False)
    html = viewer_client.get("/wall/").content.decode()
    assert "retired" not in html


def test_long_sections_and_the_healthy_strip_are_cut_with_a_count(
    viewer_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wall, "ROWS_PER_SECTION", 2)
    monkeypatch.setattr(wall, "HEALTHY_NAMES_SHOWN", 3)
    Host.objects.bulk_create([Host(name=f"off-{i}") for i in range(5)])  # never seen: offline
    make_hosts(7)
    html = viewer_client.get("/wall/").content.decode()
    assert rows(html) == ["off-0", "off-1"]
    assert 'Offline <span class="n">5</span>' in html and "+3 more" in html
    assert healthy_strip(html) == ["h-000", "h-001", "h-002"] and "+4 more" in html


def test_names_are_escaped(viewer_client: Client) -> None:
    Host.objects.create(name="evil", display_name="<script>alert(1)</script>")
    html = viewer_client.get("/wall/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_dark_by_default_and_light_on_request(viewer_client: Client) -> None:
    assert 'class="wall theme-dark"' in viewer_client.get("/wall/").content.decode()
    assert 'class="wall theme-light"' in viewer_client.get("/wall/?theme=light").content.decode()


def test_an_unknown_theme_is_refused(viewer_client: Client) -> None:
    response = viewer_client.get("/wall/?theme=neon")
    assert response.status_code == 400
    assert "theme must be one of dark, light" in response.content.decode()


def test_an_htmx_request_gets_the_board_alone(viewer_client: Client) -> None:
    a_fleet()
    response = viewer_client.get("/wall/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="wall-board"') and "<html" not in html
    assert rows(html) == ["dd-down", "cc-hot", "bb-late"]


def test_the_wall_is_in_the_navigation(viewer_client: Client) -> None:
    assert 'href="/wall/"' in viewer_client.get("/").content.decode()


def test_the_wall_runs_the_same_queries_at_10_and_200_hosts(viewer_client: Client) -> None:
    hosts = make_hosts(10, "a")
    Alert.objects.fire("cpu_high", host=hosts[0])
    Host.objects.filter(pk=hosts[1].pk).update(last_seen=None)
    viewer_client.get("/wall/")  # the session and the sentiment's cache are warm from here on
    with CaptureQueriesContext(connection) as ten:
        assert viewer_client.get("/wall/").status_code == 200
    # 190 more, a third of them offline and some firing: problems cost no query each either.
    seen = timezone.now() - timedelta(seconds=5)
    more = Host.objects.bulk_create(
        [Host(name=f"b-{i:04d}", last_seen=None if i % 3 == 0 else seen) for i in range(190)]
    )
    for host in more[:20]:
        Alert.objects.fire("memory_high", host=host)
    viewer_client.get("/wall/")
    with CaptureQueriesContext(connection) as two_hundred:
        response = viewer_client.get("/wall/")
    html = response.content.decode()
    assert response.status_code == 200 and "<strong>200</strong>" not in html  # not all healthy
    assert len(rows(html)) > 60
    assert len(two_hundred) == len(ten) > 0, [q["sql"][:80] for q in two_hundred.captured_queries]
