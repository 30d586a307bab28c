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


def test_a_silence_longer_than_a_host_may_keep_online_is_filled_with_nulls(host: Host) -> None:
    now = timezone.now()
    # A report every 20 s (on time: a host is stale after 30 s), none from 30 to 20 minutes ago.
    ages = [s for s in range(0, 3600, 20) if not 20 * 60 < s < 30 * 60]
    reports = []
    for age in ages:
        report = sample_report(seed=age)
        report["collected_at"] = now - timedelta(seconds=age)
        reports.append(report)
    MetricSample.store_reports(host, reports)
    data = history_with_detail(host, "1h")
    step = data["step_seconds"]
    cpu, times = data["series"]["cpu_percent"], data["timestamps"]
    gap = [t for t, v in zip(times, cpu, strict=True) if v is None]
    before = int((now - timedelta(minutes=30)).timestamp()) // step * step
    after = int((now - timedelta(minutes=20)).timestamp()) // step * step
    # Every step inside the silence and nowhere else.
    assert gap == list(range(before + step, after, step))
    assert times == sorted(times)
    assert len(data["detail"]["cores"][0]) == len(times) and data["counts"][times.index(gap[0])] is None


def test_reports_sparser_than_a_step_but_on_time_leave_no_gap(host: Host) -> None:
    # Every 20 s on a 1 h range (6 s steps): most steps are empty, none is a gap.
    store(host, 100, timedelta(seconds=20))
    data = history_with_detail(host, "1h")
    assert None not in data["series"]["cpu_percent"]
    assert len(data["timestamps"]) == 100


def test_history_spans_the_range_ending_now(host: Host) -> None:
    store(host, 1, timedelta(seconds=10))
    data = history_with_detail(host, "6h")
    assert data["end"] - data["start"] == 6 * 3600
    assert abs(data["end"] - timezone.now().timestamp()) < 5


def test_latest_is_the_newest_report_not_its_steps_average(host: Host) -> None:
    # 24 h steps are 144 s: the newest step averages several reports.
    store(host, 30, timedelta(seconds=5))
    newest = MetricSample.objects.order_by("-collected_at").first()
    data = history_with_detail(host, "24h")
    assert data["latest"]["series"]["cpu_percent"] == [newest.cpu_percent]
    assert data["latest"]["timestamps"] == [int(newest.collected_at.timestamp())]
    assert data["counts"][-1] > 1


def test_latest_older_than_the_range_is_left_out(host: Host) -> None:
    report = sample_report(seed=1)
    report["collected_at"] = timezone.now() - timedelta(hours=2)
    MetricSample.store_reports(host, [report])
    assert history_with_detail(host, "1h")["latest"] is None
    assert history_with_detail(host, "6h")["latest"] is not None
