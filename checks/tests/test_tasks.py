from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from checks import tasks
from checks.models import CheckResult, CheckState, Outcome
from metrics.rollups import roll_up


@pytest.mark.django_db
def test_retention_forgets_results_older_than_the_raw_window(make_check, settings):
    settings.RAW_RETENTION_HOURS = 48
    check = make_check("tcp", "db.example:5432")
    check.record(Outcome(CheckState.OK, "old"), at=timezone.now() - timedelta(hours=49))
    check.record(Outcome(CheckState.OK, "new"), at=timezone.now() - timedelta(hours=47))
    roll_up(timezone.now() + timedelta(minutes=1))  # raw results go only once rolled up
    assert tasks.apply_retention.apply().get()["results"] == 1
    assert list(CheckResult.objects.values_list("message", flat=True)) == ["new"]


@pytest.mark.django_db
def test_run_due_task_runs_due_checks(make_check, tcp_listener):
    make_check("tcp", f"127.0.0.1:{tcp_listener}")
    assert tasks.run_due.apply().get() == 1
    assert CheckResult.objects.get().state == CheckState.OK


def test_beat_looks_for_due_checks_every_second_and_drops_a_tick_it_could_not_take(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["checks-run-due"]
    assert (entry["task"], entry["schedule"], entry["options"]["expires"]) == ("checks.run_due", 1.0, 1.0)
    assert settings.CHECK_SCHEDULER_SECONDS == 1  # the default, with no environment
