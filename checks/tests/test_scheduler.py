from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import close_old_connections

from checks import runners, scheduler
from checks.models import Check, CheckResult, CheckState, Outcome

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def ok(check: Check) -> Outcome:
    return Outcome(CheckState.OK, "fine", 1.0)


def failing(check: Check) -> Outcome:
    return Outcome(CheckState.CRITICAL, "refused")


@pytest.mark.django_db
def test_due_check_runs_once_and_waits_its_interval(make_check):
    with time_machine.travel(START, tick=False):
        check = make_check("tcp", "db.example:5432", interval=60)
        assert len(scheduler.run_checks(scheduler.claim_due(), run=ok)) == 1
        assert scheduler.claim_due() == []
    with time_machine.travel(START + timedelta(seconds=59), tick=False):
        assert scheduler.claim_due() == []
    with time_machine.travel(START + timedelta(seconds=60), tick=False):
        assert [c.pk for c in scheduler.claim_due()] == [check.pk]


@pytest.mark.django_db
def test_next_run_keeps_the_beat_despite_a_late_start(make_check):
    with time_machine.travel(START, tick=False):
        check = make_check("tcp", "db.example:5432", interval=60)
    with time_machine.travel(START + timedelta(seconds=4), tick=False):
        scheduler.claim_due()
    check.refresh_from_db()
    assert check.next_run_at == START + timedelta(seconds=60)


@pytest.mark.django_db
def test_after_an_outage_next_run_is_from_now(make_check):
    with time_machine.travel(START, tick=False):
        check = make_check("tcp", "db.example:5432", interval=60)
    with time_machine.travel(START + timedelta(hours=3), tick=False):
        scheduler.claim_due()
    check.refresh_from_db()
    assert check.next_run_at == START + timedelta(hours=3, seconds=60)


@pytest.mark.django_db
def test_disabled_and_agent_checks_are_not_run_by_the_hub(make_check, host):
    with time_machine.travel(START, tick=False):
        make_check("tcp", "db.example:5432", enabled=False)
        make_check("tcp", "db.example:5432", host=host)
        make_check("tcp", "db.example:5432", host_tag="prod")
        assert scheduler.claim_due() == []


@pytest.mark.django_db
def test_claim_fails_when_another_scheduler_moved_the_run(make_check):
    with time_machine.travel(START, tick=False):
        check = make_check("tcp", "db.example:5432")
        stale = Check.objects.get(pk=check.pk)
        assert scheduler.claim(check, START)
        assert not scheduler.claim(stale, START)


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_run_each_check_once(make_check):
    checks = [make_check("tcp", f"db{i}.example:5432", next_run_at=START) for i in range(30)]
    ran: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def counting(check: Check) -> Outcome:
        with lock:
            ran.append(check.pk)
        return ok(check)

    def scheduler_thread() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                scheduler.run_checks(scheduler.claim_due(START + timedelta(seconds=1)), run=counting)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=scheduler_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(ran) == sorted(c.pk for c in checks)
    assert CheckResult.objects.count() == 30


@pytest.mark.django_db
def test_checks_run_concurrently_up_to_the_limit(make_check, settings):
    settings.CHECK_CONCURRENCY = 4
    checks = [make_check("tcp", f"db{i}.example:5432") for i in range(8)]
    running = 0
    peak = 0
    lock = threading.Lock()

    def slow(check: Check) -> Outcome:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.3)
        with lock:
            running -= 1
        return ok(check)

    started = time.monotonic()
    scheduler.run_checks(checks, run=slow)
    assert peak == 4
    assert time.monotonic() - started < 1.5  # 8 checks of 0.3 s, 4 at a time: about 0.6 s


@pytest.mark.django_db
def test_scheduled_failures_take_the_check_down_after_the_retries(make_check):
    with time_machine.travel(START, tick=False):
        check = make_check("tcp", "db.example:5432", interval=60, retries=2)
    for minute in range(3):
        with time_machine.travel(START + timedelta(minutes=minute), tick=False):
            scheduler.run_checks(scheduler.claim_due(), run=failing)
        check.refresh_from_db()
        expected = CheckState.CRITICAL if minute == 2 else CheckState.UNKNOWN
        assert check.state == expected


@pytest.mark.django_db
def test_runner_error_is_recorded_as_unknown(make_check, monkeypatch):
    check = make_check("tcp", "db.example:5432")

    def broken(check: Check) -> Outcome:
        raise RuntimeError("boom")

    monkeypatch.setitem(runners.RUNNERS, "tcp", broken)
    [result] = scheduler.run_checks([check])
    assert (result.state, result.message) == (CheckState.UNKNOWN, "the runner failed: RuntimeError: boom")
