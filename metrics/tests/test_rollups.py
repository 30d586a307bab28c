"""Rollups are exact (checked against a computation over the raw rows), incremental, and read by history."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from hosts.models import Host
from metrics.history import history, rollup_step
from metrics.models import CHARTED_COLUMNS, MetricRollup, MetricSample
from metrics.rollups import roll_up
from statusdash.tests.support import sample_report

NOW = datetime(2026, 3, 1, 12, 0, 7, tzinfo=UTC)


def add_samples(host: Host, start: datetime, count: int, every: float = 10.0, seed: int = 0) -> list[MetricSample]:
    """Samples with random values (microsecond timestamps, so bucket edges are exercised)."""
    rnd = random.Random(seed)
    samples = []
    for i in range(count):
        report = sample_report(seed=rnd.randrange(10**6))
        report["collected_at"] = start + timedelta(seconds=i * every, microseconds=rnd.randrange(10**6))
        sample = MetricSample.from_report(host, report)
        sample.cpu_percent = rnd.uniform(0, 100)
        samples.append(sample)
    return MetricSample.objects.bulk_create(samples)


def expected_rollups(step: int) -> dict[tuple[int, datetime], dict[str, float]]:
    """The aggregates computed in Python over every raw row."""
    groups: dict[tuple[int, datetime], list[MetricSample]] = defaultdict(list)
    for sample in MetricSample.objects.all():
        start = datetime.fromtimestamp(int(sample.collected_at.timestamp()) // step * step, UTC)
        groups[(sample.host_id, start)].append(sample)
    expected = {}
    for key, samples in groups.items():
        row: dict[str, float] = {"sample_count": len(samples)}
        for column in CHARTED_COLUMNS:
            values = [getattr(s, column) for s in samples]
            row[f"{column}_min"], row[f"{column}_max"] = min(values), max(values)
            row[f"{column}_avg"] = statistics.fmean(values)
        expected[key] = row
    return expected


def stored_rollups(step: int) -> dict[tuple[int, datetime], dict[str, float]]:
    fields = ["sample_count", *(f"{c}_{a}" for c in CHARTED_COLUMNS for a in ("min", "max", "avg"))]
    return {
        (r.host_id, r.bucket_start): {f: getattr(r, f) for f in fields} for r in MetricRollup.objects.filter(step=step)
    }


def assert_exact(step: int) -> None:
    expected, stored = expected_rollups(step), stored_rollups(step)
    assert stored.keys() == expected.keys()
    for key, row in expected.items():
        assert stored[key] == pytest.approx(row, rel=1e-12), key


@pytest.fixture
def hosts(db: Any) -> list[Host]:
    return [Host.objects.create(name="web-1"), Host.objects.create(name="db-1")]


@pytest.mark.django_db
@pytest.mark.parametrize("step", [60, 900, 3600])
def test_rollups_equal_the_aggregates_of_the_raw_rows(hosts: list[Host], step: int, settings: Any) -> None:
    settings.ROLLUP_TIERS = [(step, 30 * 86400)]
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        for i, host in enumerate(hosts):
            add_samples(host, NOW - timedelta(hours=3), 1000, seed=i)
    assert roll_up(NOW) == 2000
    assert_exact(step)


@pytest.mark.django_db
def test_rollups_are_incremental_and_take_in_late_reports(hosts: list[Host], settings: Any) -> None:
    settings.ROLLUP_TIERS = [(60, 7 * 86400), (3600, 30 * 86400)]
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        add_samples(hosts[0], NOW - timedelta(hours=2), 300)
    roll_up(NOW)
    with time_machine.travel(NOW + timedelta(minutes=4), tick=False):
        add_samples(hosts[0], NOW, 20, seed=1)  # new
        add_samples(hosts[1], NOW - timedelta(hours=1, minutes=30), 5, seed=2)  # a spool replayed late
    assert roll_up(NOW + timedelta(minutes=5)) == 25
    assert roll_up(NOW + timedelta(minutes=5)) == 0  # nothing new: nothing read
    assert_exact(60)
    assert_exact(3600)


@pytest.mark.django_db
def test_rollups_wait_for_recent_rows_to_settle(hosts: list[Host], settings: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        add_samples(hosts[0], NOW - timedelta(minutes=1), 3)
    assert roll_up(NOW + timedelta(seconds=5)) == 0
    assert roll_up(NOW + timedelta(seconds=11)) == 3


def old_rollup(host: Host, start: datetime, step: int = 3600, count: int = 360, value: float = 50.0) -> MetricRollup:
    """A rollup whose raw rows retention has already deleted."""
    return MetricRollup.objects.create(
        host=host,
        step=step,
        bucket_start=start,
        sample_count=count,
        **{f"{c}_{a}": value for c in CHARTED_COLUMNS for a in ("min", "max", "avg")},
    )


@pytest.mark.django_db
def test_a_late_report_before_the_raw_window_is_merged_into_its_rollup(hosts: list[Host], settings: Any) -> None:
    settings.ROLLUP_TIERS = [(3600, 30 * 86400)]
    old_bucket = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)  # days before the raw window
    old_rollup(hosts[0], old_bucket, count=360, value=50.0)
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        (late,) = add_samples(hosts[0], old_bucket + timedelta(minutes=5), 1)
    assert roll_up(NOW) == 1
    rollup = MetricRollup.objects.get()
    # Recomputing from the raw rows would say 1 sample: the other 360 are gone.
    assert rollup.sample_count == 361
    assert rollup.cpu_percent_min == min(50.0, late.cpu_percent)
    assert rollup.cpu_percent_max == max(50.0, late.cpu_percent)
    assert rollup.cpu_percent_avg == pytest.approx((50.0 * 360 + late.cpu_percent) / 361, rel=1e-12)
    assert roll_up(NOW) == 0
    assert MetricRollup.objects.get().sample_count == 361  # merged once


@pytest.mark.django_db
def test_late_reports_before_the_raw_window_make_the_rollups_they_lack(hosts: list[Host], settings: Any) -> None:
    settings.ROLLUP_TIERS = [(900, 3 * 86400), (3600, 30 * 86400)]
    start = datetime.fromtimestamp(int((NOW - timedelta(days=5)).timestamp()) // 3600 * 3600, UTC)
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        add_samples(hosts[0], start, 360)  # an hour of them, days before the raw window
    assert roll_up(NOW) == 360
    assert not MetricRollup.objects.filter(step=900).exists()  # that tier no longer keeps their time
    assert_exact(3600)


@pytest.mark.django_db
def test_a_bucket_straddling_the_raw_window_keeps_its_deleted_rows(hosts: list[Host], settings: Any) -> None:
    settings.ROLLUP_TIERS = [(3600, 30 * 86400)]
    raw_start = NOW - timedelta(hours=settings.RAW_RETENTION_HOURS)
    straddling = datetime.fromtimestamp(int(raw_start.timestamp()) // 3600 * 3600, UTC)
    assert straddling < raw_start
    old_rollup(hosts[0], straddling, count=100, value=10.0)
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        add_samples(hosts[0], straddling + timedelta(minutes=59), 1)
    roll_up(NOW)
    assert MetricRollup.objects.get().sample_count == 101


def test_history_reads_raw_within_the_raw_window_and_coarser_tiers_beyond(settings: Any) -> None:
    settings.RAW_RETENTION_HOURS = 48
    settings.ROLLUP_TIERS = [(60, 7 * 86400), (900, 30 * 86400), (3600, 30 * 86400)]
    assert [rollup_step(r) for r in ("1h", "6h", "24h", "7d", "30d")] == [None, None, None, 900, 3600]


def test_history_falls_back_to_the_longest_kept_tier(settings: Any) -> None:
    settings.ROLLUP_TIERS = [(60, 7 * 86400)]
    assert rollup_step("30d") == 60


@pytest.mark.django_db
def test_a_30_day_chart_from_rollups_matches_the_raw_average(hosts: list[Host], settings: Any) -> None:
    settings.ROLLUP_TIERS = [(60, 7 * 86400), (900, 30 * 86400), (3600, 30 * 86400)]
    host = hosts[0]
    start = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)  # an even 2-hour boundary
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        add_samples(host, start, 4 * 360)  # 4 hours
    roll_up(NOW)
    with time_machine.travel(NOW, tick=False):
        chart = history(host, "30d")
    assert chart["step_seconds"] == 7200  # 30 d / 600 points = 72 min, rounded up to whole hours
    assert chart["timestamps"] == [int(start.timestamp()), int(start.timestamp()) + 7200]
    raw = list(MetricSample.objects.filter(host=host).order_by("collected_at"))
    first_half = [s.cpu_percent for s in raw if s.collected_at < start + timedelta(hours=2)]
    assert chart["series"]["cpu_percent"][0] == pytest.approx(statistics.fmean(first_half), rel=1e-12)
    assert chart["series"]["cpu_max"][0] == max(first_half)
    assert set(chart["series"]) == {*CHARTED_COLUMNS, "cpu_max"}
