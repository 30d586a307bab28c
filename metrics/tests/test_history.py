"""Chart history: bucketing, the point limit, and per-core/mount/interface series."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.models import Host
from metrics.history import MAX_POINTS, detail_series, history_with_detail, live_point
from metrics.models import MetricSample
from statusdash.tests.support import sample_report

pytestmark = pytest.mark.django_db


def store(host: Host, count: int, every: timedelta) -> None:
    now = timezone.now()
    reports = []
    for i in range(count):
        report = sample_report(seed=i)
        report["collected_at"] = now - every * i
        reports.append(report)
    MetricSample.store_reports(host, reports)


def test_history_with_detail_stays_under_the_point_limit(host: Host) -> None:
    store(host, 1500, timedelta(seconds=5))  # about two hours at 5 s
    data = history_with_detail(host, "6h")
    assert 0 < len(data["timestamps"]) <= MAX_POINTS + 1
    assert all(len(core) == len(data["timestamps"]) for core in data["detail"]["cores"])
    assert len(data["detail"]["disks"]["/"]) == len(data["timestamps"])


def test_history_of_a_silent_host_is_empty(host: Host) -> None:
    data = history_with_detail(host, "1h")
    assert data["timestamps"] == []
    assert data["detail"] == {"cores": [], "disks": {}, "network": {}}


def test_detail_series_leaves_gaps_where_a_mount_is_missing() -> None:
    with_data = {"per_core": [1.0], "disks": [{"mount": "/mnt", "percent": 5.0}], "network": []}
    without = {"per_core": [2.0], "disks": [], "network": []}
    series = detail_series([with_data, without])
    assert series["disks"] == {"/mnt": [5.0, None]}
    assert series["cores"] == [[1.0, 2.0]]


def test_live_point_is_the_newest_sample_as_a_one_point_history(host: Host) -> None:
    store(host, 3, timedelta(seconds=10))
    newest = MetricSample.objects.order_by("-collected_at").first()
    point = live_point(host)
    assert point is not None
    assert point["timestamps"] == [int(newest.collected_at.timestamp())]
    assert point["series"]["cpu_percent"] == [newest.cpu_percent]
    assert point["detail"]["network"]["eth0"]["rx"] == [newest.net_rx_bps]


def test_live_point_of_a_silent_host_is_none(host: Host) -> None:
    assert live_point(host) is None


def test_ranges_read_from_rollups_chart_the_fullest_mount_and_all_interfaces(host: Host) -> None:
    # Rollups keep no per-core/mount/interface detail: the charts fall back to the totals.
    store(host, 3, timedelta(seconds=10))
    data = history_with_detail(host, "30d")
    assert data["detail"]["cores"] == []
    assert data["detail"]["disks"] == {"fullest mount": data["series"]["disk_percent"]}
    assert data["detail"]["network"] == {
        "all": {"rx": data["series"]["net_rx_bps"], "tx": data["series"]["net_tx_bps"]}
    }
