"""The overview and host pages: login, cards, filters in the URL, htmx fragments, chart data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert
from hosts.models import Host
from metrics.latest import remember
from metrics.models import MetricSample
from statusdash.tests.support import sample_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(viewer_client: Client) -> Client:
    return viewer_client


def report_for(host: Host, seconds_ago: float = 0, **cpu: Any) -> MetricSample:
    report = sample_report(timezone.now() - timedelta(seconds=seconds_ago), seed=host.pk)
    report["cpu"].update(cpu)
    report["collected_at"] = timezone.now() - timedelta(seconds=seconds_ago)
    stored, _ = MetricSample.store_reports(host, [report])
    Host.objects.filter(pk=host.pk).update(last_seen=timezone.now() - timedelta(seconds=seconds_ago))
    remember(stored[0])
    return stored[0]


def make_hosts(n: int, prefix: str = "h") -> list[Host]:
    hosts = Host.objects.bulk_create(
        [Host(name=f"{prefix}-{i:03d}", tags=["even" if i % 2 == 0 else "odd"]) for i in range(n)]
    )
    for host in hosts:
        report_for(host)
    return hosts


def card_names(html: str) -> list[str]:
    import re

    return re.findall(r'data-host="([^"]+)"', html)


def test_logged_out_visitor_is_sent_to_login(client: Client) -> None:
    response = client.get("/?status=online")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/%3Fstatus%3Donline"


def test_overview_shows_a_card_per_host_with_gauges(viewer: Client, host: Host) -> None:
    report_for(host, percent=97.0)
    html = viewer.get("/").content.decode()
    assert f'id="host-{host.pk}"' in html
    assert "97.0%" in html
    assert 'class="gauge-row cpu level-bad"' in html  # 97 >= CPU_THRESHOLD 90
    assert 'class="gauge-row disk level-ok"' in html  # fullest mount 72% < 90 - 10
    assert "/s" in html  # network rates
    assert "up 1 d" in html  # uptime


def test_gauge_is_amber_within_ten_points_of_the_threshold(viewer: Client, host: Host) -> None:
    report_for(host, percent=85.0)
    assert 'class="gauge-row cpu level-warn"' in viewer.get("/").content.decode()


def test_overview_shows_sentiment_counts_and_active_alerts(viewer: Client, host: Host) -> None:
    report_for(host)
    Alert.objects.fire("cpu_high", host=host, message="CPU at 97%")
    html = viewer.get("/").content.decode()
    assert "badge-healthy" in html
    assert "<strong>1</strong> online" in html
    assert "1 alert</a>" in html
    assert "<strong>1</strong> firing alert" in html


def test_services_panel_shows_its_empty_state(viewer: Client, host: Host) -> None:
    assert "No service has reported its health yet" in viewer.get("/").content.decode()


def test_filter_by_status_keeps_only_matching_hosts(viewer: Client) -> None:
    _, quiet = make_hosts(2)
    Host.objects.filter(pk=quiet.pk).update(last_seen=timezone.now() - timedelta(hours=1))
    html = viewer.get("/?status=offline").content.decode()
    assert card_names(html) == [quiet.name]
    assert "1 of 2 hosts match" in html


def test_filter_by_tag_and_search_by_name(viewer: Client) -> None:
    make_hosts(4)
    assert card_names(viewer.get("/?tag=odd").content.decode()) == ["h-001", "h-003"]
    assert card_names(viewer.get("/?q=H-00").content.decode()) == ["h-000", "h-001", "h-002", "h-003"]
    assert card_names(viewer.get("/?q=002").content.decode()) == ["h-002"]


def test_sort_by_cpu_puts_the_busiest_first_and_silent_hosts_last(viewer: Client) -> None:
    a, b, _ = Host.objects.bulk_create([Host(name="a"), Host(name="b"), Host(name="c")])
    report_for(a, percent=10.0)
    report_for(b, percent=80.0)
    assert card_names(viewer.get("/?sort=cpu").content.decode()) == ["b", "a", "c"]


def test_sort_by_last_seen_puts_the_longest_silent_first(viewer: Client) -> None:
    a, b = make_hosts(2)
    Host.objects.filter(pk=b.pk).update(last_seen=timezone.now() - timedelta(minutes=5))
    assert card_names(viewer.get("/?sort=last_seen").content.decode()) == [b.name, a.name]


def test_filter_form_keeps_its_values_from_the_url(viewer: Client) -> None:
    make_hosts(2)
    html = viewer.get("/?status=online&tag=odd&q=h-&sort=disk").content.decode()
    assert '<option value="online" selected>' in html
    assert '<option value="odd" selected>' in html
    assert '<option value="disk" selected>' in html
    assert 'value="h-"' in html


def test_htmx_request_gets_the_grid_and_the_header_out_of_band(viewer: Client, host: Host) -> None:
    report_for(host)
    html = viewer.get("/?tag=prod", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section id="host-grid"')
    assert "<html" not in html
    assert 'id="sentiment" class="summary" hx-swap-oob="true"' in html
    assert 'id="services-panel" class="panel" hx-swap-oob="true"' in html


def test_unknown_status_filter_is_refused_naming_the_field(viewer: Client) -> None:
    response = viewer.get("/?status=sleeping")
    assert response.status_code == 400
    assert "status" in response.content.decode()
    assert "Select a valid choice" in response.content.decode()


def test_overlong_search_is_refused(viewer: Client) -> None:
    response = viewer.get("/?q=" + "x" * 101)
    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()


def test_unknown_sort_is_refused(viewer: Client) -> None:
    assert viewer.get("/?sort=random").status_code == 400


def test_overview_queries_do_not_grow_with_the_number_of_hosts(viewer: Client) -> None:
    make_hosts(10, "a")
    viewer.get("/")  # the session and the latest-metrics cache are warm from here on
    with CaptureQueriesContext(connection) as ten:
        assert viewer.get("/?sort=cpu").status_code == 200
    make_hosts(60, "b")
    viewer.get("/")
    with CaptureQueriesContext(connection) as seventy:
        assert viewer.get("/?sort=cpu").status_code == 200
    assert len(seventy) == len(ten) > 0, [q["sql"][:80] for q in ten.captured_queries]


def test_overview_reads_latest_metrics_from_the_database_when_the_cache_is_cold(viewer: Client, host: Host) -> None:
    report_for(host, percent=55.5)
    cache.clear()
    viewer.login(username="viewer", password="pw-viewer-123")
    assert "55.5%" in viewer.get("/").content.decode()


def test_overview_with_no_hosts_explains_how_to_add_one(viewer: Client) -> None:
    assert "apikey create --host" in viewer.get("/").content.decode()


def test_host_page_shows_system_info_charts_and_values(viewer: Client, host: Host) -> None:
    for ago in (120, 60, 0):
        report_for(host, seconds_ago=ago)
    html = viewer.get("/hosts/web-1/").content.decode()
    assert "Debian GNU/Linux 12" in html
    assert "6.1.0-26-amd64" in html
    assert 'data-chart="cpu"' in html and 'data-chart="network"' in html
    assert "core 3" in html  # per-core rows beside the CPU chart
    assert "/data" in html  # per-mount disk usage
    assert "eth0 in" in html
    assert 'id="history-data"' in html
    assert "Certificate expires" in html


def test_host_page_lists_firing_and_resolved_alerts(viewer: Client, host: Host) -> None:
    Alert.objects.fire("disk_full", host=host, subject="/data", message="disk at 95%")
    Alert.objects.fire("cpu_high", host=host, message="cpu at 99%")
    Alert.objects.resolve("cpu_high", host=host)
    html = viewer.get("/hosts/web-1/").content.decode()
    assert "disk at 95%" in html
    assert "Recently resolved" in html and "cpu at 99%" in html


def test_host_page_of_unknown_host_is_404(viewer: Client) -> None:
    assert viewer.get("/hosts/nope/").status_code == 404


def test_host_page_with_unknown_range_is_400(viewer: Client, host: Host) -> None:
    response = viewer.get("/hosts/web-1/?range=2y")
    assert response.status_code == 400
    assert "range must be one of 1h, 6h, 24h, 7d, 30d" in response.content.decode()


def test_host_page_htmx_request_gets_summary_and_alerts_out_of_band(viewer: Client, host: Host) -> None:
    html = viewer.get("/hosts/web-1/", HTTP_HX_REQUEST="true").content.decode()
    assert '<section id="host-summary" class="panel" hx-swap-oob="true"' in html
    assert 'id="host-alerts"' in html
    assert "<html" not in html


def test_history_json_has_per_core_mount_and_interface_series(viewer: Client, host: Host) -> None:
    report_for(host, seconds_ago=30)
    report_for(host)
    data = viewer.get("/hosts/web-1/history/?range=1h").json()
    assert data["range"] == "1h"
    assert len(data["timestamps"]) == 2
    assert len(data["detail"]["cores"]) == 4
    assert set(data["detail"]["disks"]) == {"/", "/data"}
    assert data["detail"]["disks"]["/data"] == [72.0, 72.0]
    assert set(data["detail"]["network"]["eth0"]) == {"rx", "tx"}


def test_history_json_with_unknown_range_names_the_field(viewer: Client, host: Host) -> None:
    response = viewer.get("/hosts/web-1/history/?range=1y")
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["query", "range"]


def test_history_json_of_unknown_host_is_404_json(viewer: Client) -> None:
    response = viewer.get("/hosts/nope/history/")
    assert response.status_code == 404
    assert response.json() == {"detail": "no host named 'nope'"}


def test_history_json_needs_login(client: Client, host: Host) -> None:
    assert client.get("/hosts/web-1/history/").status_code == 302


def test_card_escapes_display_names(viewer: Client, host: Host) -> None:
    host.display_name = "<img src=x onerror=alert(1)>"
    host.save()
    html = viewer.get("/").content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html


def test_htmx_grid_cards_are_swapped_in_place_not_out_of_band(viewer: Client, host: Host) -> None:
    # An out-of-band card inside the swapped grid would be pulled out of it by htmx.
    report_for(host)
    html = viewer.get("/", HTTP_HX_REQUEST="true").content.decode()
    assert f'<article id="host-{host.pk}" class="card status-online" data-host' in html
