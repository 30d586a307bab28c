"""Check results roll up into metrics' tiers: exact uptime and latency per bucket, incremental, late rows merged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from checks import tasks
from checks.models import Check, CheckResult, CheckRollup, CheckState, Outcome
from checks.rollups import p95
from metrics.rollups import roll_up

NOW = datetime(2026, 3, 1, 12, 20, 7, tzinfo=UTC)
QUARTER = 900
BUCKET = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def tiers(settings):
    settings.ROLLUP_TIERS = [(QUARTER, 90 * 86400), (3600, 90 * 86400)]
    settings.RAW_RETENTION_HOURS = 48


def record(check: Check, state: str, latency: float | None, at: datetime) -> None:
    check.record(Outcome(state, "", latency), at=at)


def rollup(check: Check, start: datetime = BUCKET, step: int = QUARTER) -> CheckRollup:
    return CheckRollup.objects.get(service_check=check, step=step, bucket_start=start)


def a_mixed_quarter(check: Check) -> None:
    """ok 100, ok 200, warning 300, critical (no latency), unknown 50, in 12:00-12:15."""
    for minute, (state, latency) in enumerate(
        [
            (CheckState.OK, 100.0),
            (CheckState.OK, 200.0),
            (CheckState.WARNING, 300.0),
            (CheckState.CRITICAL, None),
            (CheckState.UNKNOWN, 50.0),
        ]
    ):
        record(check, state, latency, BUCKET + timedelta(minutes=minute, seconds=30))


@pytest.mark.django_db
def test_a_bucket_counts_runs_and_warning_as_up_and_unknown_as_down(make_check):
    check = make_check("tcp", "db.example:5432")
    with time_machine.travel(NOW, tick=False):
        a_mixed_quarter(check)
    roll_up(NOW + timedelta(minutes=1))
    stored = rollup(check)
    assert (stored.runs, stored.up_runs, stored.latency_runs) == (5, 3, 4)
    assert stored.uptime == pytest.approx(0.6)


@pytest.mark.django_db
def test_a_bucket_has_latency_avg_p95_and_max_over_runs_that_measured_one(make_check):
    check = make_check("tcp", "db.example:5432")
    with time_machine.travel(NOW, tick=False):
        a_mixed_quarter(check)
    roll_up(NOW + timedelta(minutes=1))
    stored = rollup(check)
    assert (stored.latency_avg, stored.latency_p95, stored.latency_max) == (162.5, 300.0, 300.0)
    hour = rollup(check, step=3600)
    assert (hour.runs, hour.up_runs, hour.latency_avg) == (5, 3, 162.5)


def test_p95_is_the_nearest_rank():
    assert p95([float(v) for v in range(1, 101)]) == 95.0
    assert p95([10.0]) == 10.0
    assert p95([]) is None


@pytest.mark.django_db
def test_rollups_are_incremental_and_recompute_a_touched_bucket(make_check):
    check = make_check("tcp", "db.example:5432")
    with time_machine.travel(NOW, tick=False):
        a_mixed_quarter(check)
    roll_up(NOW + timedelta(minutes=1))
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        record(check, CheckState.OK, 1000.0, BUCKET + timedelta(minutes=14))
        record(check, CheckState.OK, 10.0, BUCKET + timedelta(minutes=15))  # the next quarter
    roll_up(NOW + timedelta(minutes=2))
    first, second = rollup(check), rollup(check, BUCKET + timedelta(minutes=15))
    assert (first.runs, first.up_runs, first.latency_max, first.latency_avg) == (6, 4, 1000.0, 330.0)
    assert (second.runs, second.up_runs, second.latency_avg) == (1, 1, 10.0)


@pytest.mark.django_db
def test_a_result_stored_moments_ago_waits_for_the_next_run(make_check):
    check = make_check("tcp", "db.example:5432")
    with time_machine.travel(NOW, tick=False):
        record(check, CheckState.OK, 5.0, BUCKET)
    assert roll_up(NOW + timedelta(seconds=2)) == 0
    assert not CheckRollup.objects.exists()
    assert roll_up(NOW + timedelta(seconds=20)) == 1


@pytest.mark.django_db
def test_a_late_result_is_merged_into_a_bucket_whose_raw_rows_are_gone(make_check):
    check = make_check("tcp", "db.example:5432")
    old = datetime(2026, 2, 25, 9, 0, tzinfo=UTC)  # before the 48 h raw window
    CheckRollup.objects.create(
        service_check=check,
        step=QUARTER,
        bucket_start=old,
        runs=10,
        up_runs=10,
        latency_runs=10,
        latency_avg=100.0,
        latency_p95=120.0,
        latency_max=150.0,
    )
    with time_machine.travel(NOW, tick=False):
        record(check, CheckState.CRITICAL, 420.0, old + timedelta(minutes=3))
    roll_up(NOW + timedelta(minutes=1))
    merged = rollup(check, old)
    assert (merged.runs, merged.up_runs, merged.latency_runs) == (11, 10, 11)
    assert merged.latency_avg == pytest.approx(1420.0 / 11)
    assert (merged.latency_p95, merged.latency_max) == (420.0, 420.0)


@pytest.mark.django_db
def test_retention_keeps_raw_results_until_rolled_up(make_check):

    check = make_check("tcp", "db.example:5432")
    with time_machine.travel(NOW - timedelta(hours=50), tick=False):
        record(check, CheckState.OK, 5.0, NOW - timedelta(hours=50))
    with time_machine.travel(NOW, tick=False):
        assert tasks.apply_retention.apply().get()["results"] == 0
        roll_up(NOW)
        assert tasks.apply_retention.apply().get()["results"] == 1
    assert not CheckResult.objects.exists()
    assert CheckRollup.objects.filter(service_check=check).count() == 2


@pytest.mark.django_db
def test_retention_deletes_rollups_past_their_tier_and_of_tiers_no_longer_configured(make_check, settings):

    settings.ROLLUP_TIERS = [(QUARTER, 7 * 86400), (3600, 90 * 86400)]
    check = make_check("tcp", "db.example:5432")
    values = {"runs": 1, "up_runs": 1}
    CheckRollup.objects.create(service_check=check, step=QUARTER, bucket_start=NOW - timedelta(days=8), **values)
    CheckRollup.objects.create(service_check=check, step=QUARTER, bucket_start=NOW - timedelta(days=6), **values)
    CheckRollup.objects.create(service_check=check, step=3600, bucket_start=NOW - timedelta(days=8), **values)
    CheckRollup.objects.create(service_check=check, step=60, bucket_start=NOW, **values)
    with time_machine.travel(NOW, tick=False):
        deleted = tasks.apply_retention.apply().get()
    assert (deleted["rollups_900s"], deleted["rollups_3600s"], deleted["rollups_unconfigured"]) == (1, 0, 1)
    assert CheckRollup.objects.count() == 2


@pytest.mark.django_db
def test_a_thousand_checks_roll_up_in_one_run(make_check):
    checks = Check.objects.bulk_create(
        [Check(name=f"c{i:04d}", kind="tcp", target="db.example:5432") for i in range(1000)]
    )
    CheckResult.objects.bulk_create(
        [CheckResult(service_check=c, at=BUCKET, state=CheckState.OK, latency_ms=1.0, received_at=NOW) for c in checks]
    )
    assert roll_up(NOW + timedelta(minutes=1)) == 1000
    assert CheckRollup.objects.filter(step=QUARTER, runs=1, up_runs=1).count() == 1000
