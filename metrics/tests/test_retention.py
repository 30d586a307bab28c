"""Retention: raw samples past RAW_RETENTION_HOURS once rolled up, rollups past their tier's keep, in batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from hosts.models import Host
from metrics import rollups
from metrics.models import CHARTED_COLUMNS, MetricRollup, MetricSample
from metrics.tasks import apply_retention
from statusdash.tests.support import sample_report

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def add_sample(host: Host, at: datetime) -> MetricSample:
    report = sample_report()
    report["collected_at"] = at
    sample = MetricSample.from_report(host, report)
    sample.save()
    return sample


def add_rollup(host: Host, step: int, at: datetime) -> None:
    MetricRollup.objects.create(
        host=host,
        step=step,
        bucket_start=at,
        sample_count=1,
        **{f"{c}_{a}": 1.0 for c in CHARTED_COLUMNS for a in ("min", "max", "avg")},
    )


@pytest.fixture
def tiers(settings: Any) -> None:
    settings.RAW_RETENTION_HOURS = 48
    settings.ROLLUP_TIERS = [(60, 7 * 86400), (3600, 30 * 86400)]


@pytest.mark.django_db
def test_raw_samples_past_the_window_are_deleted_once_rolled_up(host: Host, tiers: None) -> None:
    with time_machine.travel(NOW - timedelta(hours=50), tick=False):
        old = add_sample(host, NOW - timedelta(hours=50))
    rollups.roll_up(NOW - timedelta(hours=49))
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        recent = add_sample(host, NOW - timedelta(hours=47))
    rollups.delete_expired(NOW)
    assert list(MetricSample.objects.values_list("id", flat=True)) == [recent.pk]
    assert not MetricSample.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_detail_is_dropped_after_its_hours_and_the_columns_kept(host: Host, tiers: None, settings: Any) -> None:
    settings.DETAIL_RETENTION_HOURS = 6
    old = add_sample(host, NOW - timedelta(hours=6, minutes=1))
    recent = add_sample(host, NOW - timedelta(hours=5, minutes=59))
    cpu = old.cpu_percent
    assert rollups.delete_expired(NOW)["details_thinned"] == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.detail == {} and old.cpu_percent == cpu
    assert recent.detail["disks"]


@pytest.mark.django_db
def test_raw_samples_not_yet_rolled_up_are_kept(host: Host, tiers: None) -> None:
    with time_machine.travel(NOW - timedelta(hours=50), tick=False):
        add_sample(host, NOW - timedelta(hours=50))
    rollups.delete_expired(NOW)
    assert MetricSample.objects.count() == 1


@pytest.mark.django_db
def test_rollups_are_deleted_past_their_tier_keep(host: Host, tiers: None) -> None:
    add_rollup(host, 60, NOW - timedelta(days=7, minutes=1))
    add_rollup(host, 60, NOW - timedelta(days=6))
    add_rollup(host, 3600, NOW - timedelta(days=31))
    add_rollup(host, 3600, NOW - timedelta(days=29))
    add_rollup(host, 300, NOW - timedelta(days=1))  # a tier no longer configured
    deleted = rollups.delete_expired(NOW)
    assert deleted == {
        "details_thinned": 0,
        "samples": 0,
        "rollups_60s": 1,
        "rollups_3600s": 1,
        "rollups_unconfigured": 1,
    }
    assert sorted(MetricRollup.objects.values_list("step", "bucket_start")) == [
        (60, NOW - timedelta(days=6)),
        (3600, NOW - timedelta(days=29)),
    ]


@pytest.mark.django_db
def test_deletes_run_in_batches(host: Host, tiers: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(rollups, "DELETE_BATCH", 7)
    for minute in range(30):
        add_rollup(host, 60, NOW - timedelta(days=8, minutes=minute))
    statements: list[str] = []
    from django.db import connection

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert rollups.delete_expired(NOW)["rollups_60s"] == 30
    assert sum(sql.startswith("DELETE") for sql in statements) == 5  # 7+7+7+7+2
    assert not MetricRollup.objects.exists()


@pytest.mark.django_db
def test_the_retention_task_runs_with_apply(host: Host, tiers: None) -> None:
    add_rollup(host, 60, NOW - timedelta(days=8))
    with time_machine.travel(NOW, tick=False):
        result = apply_retention.apply().get()
    assert result["rollups_60s"] == 1
