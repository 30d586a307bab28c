"""Tasks: domain events from the queue, the staleness sweep, the daily availability roll-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from alerts.models import Alert, AlertState
from hosts.models import Host
from metrics.models import MetricSample
from metrics.schemas import ReportIn
from services import sentiment
from services.models import DailyAvailability, ServiceEvent, ServiceFlip, ServiceHealth
from services.tasks import handle_domain_event, prune_history, roll_up_availability, sweep_stale_services
from statusdash.tests.support import sample_report

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def healthy_event(at: datetime, name: str = "seo") -> dict[str, Any]:
    return {"type": "SYSTEM_SERVICE_HEALTHY", "payload": {"serviceName": name, "checkedAt": at.isoformat()}}


@pytest.mark.django_db
def test_queued_event_is_applied() -> None:
    with time_machine.travel(T0, tick=False):
        result = handle_domain_event.apply(args=[healthy_event(T0)]).get()
    assert result == {"applied": 1}
    assert ServiceHealth.objects.get().status == "healthy"
    assert ServiceEvent.objects.get().via == "queue"


@pytest.mark.django_db
def test_queued_batch_is_applied() -> None:
    with time_machine.travel(T0, tick=False):
        batch = {"events": [healthy_event(T0, "seo"), healthy_event(T0, "billing")]}
        assert handle_domain_event.apply(args=[batch]).get() == {"applied": 2}


@pytest.mark.django_db
def test_invalid_queued_event_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    bad = {"type": "SYSTEM_SERVICE_HEALTHY", "payload": {"serviceName": "seo"}}
    assert handle_domain_event.apply(args=[bad]).get() == {"refused": 1}
    assert not ServiceHealth.objects.exists()
    (refusal,) = [r for r in caplog.records if r.getMessage() == "domain event refused"]
    assert refusal.errors == "event.payload.checkedAt: Field required"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_silent_service_becomes_unknown_with_an_alert(django_capture_on_commit_callbacks: Any) -> None:
    with time_machine.travel(T0, tick=False):
        handle_domain_event.apply(args=[healthy_event(T0)])
    with time_machine.travel(T0 + timedelta(seconds=89), tick=False):
        assert sweep_stale_services.apply().get() == 0
    with (
        time_machine.travel(T0 + timedelta(seconds=91), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweep_stale_services.apply().get() == 1
    service = ServiceHealth.objects.get()
    assert (service.status, service.since) == ("unknown", T0 + timedelta(seconds=91))
    alert = Alert.objects.firing().get(rule="stale-seo")
    assert (alert.service, alert.subject, alert.severity) == ("seo", "seo", "warning")
    assert sentiment.overall()["status"] == "degraded"


@pytest.mark.django_db
def test_sweep_twice_raises_one_alert() -> None:
    with time_machine.travel(T0, tick=False):
        handle_domain_event.apply(args=[healthy_event(T0)])
    with time_machine.travel(T0 + timedelta(seconds=200), tick=False):
        sweep_stale_services.apply()
        assert sweep_stale_services.apply().get() == 0
    assert Alert.objects.count() == 1
    assert ServiceFlip.objects.filter(new_status="unknown").count() == 1


@pytest.mark.django_db
def test_expected_interval_is_per_service() -> None:
    with time_machine.travel(T0, tick=False):
        handle_domain_event.apply(args=[healthy_event(T0)])
        service = ServiceHealth.objects.get()
        service.expected_interval = 300
        service.save()
    with time_machine.travel(T0 + timedelta(seconds=600), tick=False):
        assert sweep_stale_services.apply().get() == 0
    with time_machine.travel(T0 + timedelta(seconds=901), tick=False):
        assert sweep_stale_services.apply().get() == 1


@pytest.mark.django_db
def test_next_event_after_silence_recovers_and_resolves() -> None:
    with time_machine.travel(T0, tick=False):
        handle_domain_event.apply(args=[healthy_event(T0)])
    later = T0 + timedelta(seconds=120)
    with time_machine.travel(later, tick=False):
        sweep_stale_services.apply()
        handle_domain_event.apply(args=[healthy_event(later)])
    assert ServiceHealth.objects.get().status == "healthy"
    assert Alert.objects.get(rule="stale-seo").state == AlertState.RESOLVED


@pytest.mark.django_db
def test_services_never_heard_from_are_not_swept() -> None:
    ServiceHealth.objects.create(name="planned")
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert sweep_stale_services.apply().get() == 0


@pytest.mark.django_db
def test_roll_up_counts_healthy_time_from_flips() -> None:
    day = date(2026, 1, 10)
    with time_machine.travel(datetime(2026, 1, 10, 6, 0, tzinfo=UTC), tick=False):
        handle_domain_event.apply(args=[healthy_event(timezone.now())])
    with time_machine.travel(datetime(2026, 1, 10, 18, 0, tzinfo=UTC), tick=False):
        unhealthy = {"serviceName": "seo", "checkedAt": timezone.now().isoformat()}
        handle_domain_event.apply(args=[{"type": "SYSTEM_SERVICE_UNHEALTHY", "payload": unhealthy}])
    DailyAvailability.roll_up(day, now=datetime(2026, 1, 11, 1, 0, tzinfo=UTC))
    row = DailyAvailability.objects.get(service__name="seo", day=day)
    assert (row.observed_seconds, row.up_seconds) == (18 * 3600, 12 * 3600)
    # The next day starts from the status held at midnight.
    DailyAvailability.roll_up(date(2026, 1, 11), now=datetime(2026, 1, 11, 6, 0, tzinfo=UTC))
    row = DailyAvailability.objects.get(service__name="seo", day=date(2026, 1, 11))
    assert (row.observed_seconds, row.up_seconds) == (6 * 3600, 0)


@pytest.mark.django_db
def test_roll_up_counts_host_samples() -> None:
    start = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)
    host = Host.objects.create(name="web-1", created_at=start - timedelta(days=1))
    # One hour of reports in a two-hour day so far: 50% up.
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        reports = [
            ReportIn.model_validate(sample_report(start + timedelta(seconds=s))).model_dump()
            for s in range(0, 3600, settings.REPORT_INTERVAL)
        ]
        MetricSample.store_reports(host, reports)
    DailyAvailability.roll_up(start.date(), now=start + timedelta(hours=2))
    row = DailyAvailability.objects.get(host=host)
    assert (row.observed_seconds, row.up_seconds) == (7200, 3600)


@pytest.mark.django_db
def test_roll_up_is_idempotent() -> None:
    with time_machine.travel(T0, tick=False):
        handle_domain_event.apply(args=[healthy_event(T0)])
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        roll_up_availability.apply()
        roll_up_availability.apply()
    assert DailyAvailability.objects.get().up_seconds == 3600


@pytest.mark.django_db
def test_prune_forgets_old_events_and_days() -> None:
    with time_machine.travel(T0, tick=False):
        handle_domain_event.apply(args=[healthy_event(T0)])
        service = ServiceHealth.objects.get()
        DailyAvailability.objects.create(service=service, day=T0.date(), observed_seconds=1, up_seconds=1)
    with time_machine.travel(T0 + timedelta(days=settings.RETENTION_DAYS - 1), tick=False):
        assert prune_history.apply().get() == 0
    with time_machine.travel(T0 + timedelta(days=settings.RETENTION_DAYS + 1), tick=False):
        assert prune_history.apply().get() == 1
    assert not ServiceEvent.objects.exists()
    assert DailyAvailability.objects.exists()  # kept for the 90-day bars
    with time_machine.travel(T0 + timedelta(days=101), tick=False):
        assert prune_history.apply().get() == 1
    assert ServiceHealth.objects.get().status == "healthy"  # the state itself is never pruned


@pytest.mark.django_db
def test_sweep_loses_to_an_event_that_arrived_meanwhile() -> None:
    with time_machine.travel(T0, tick=False):
        handle_domain_event.apply(args=[healthy_event(T0)])
    later = T0 + timedelta(seconds=120)
    with time_machine.travel(later, tick=False):
        overdue = list(ServiceHealth.objects.overdue(later).values_list("pk", flat=True))
        handle_domain_event.apply(args=[healthy_event(later)])  # between the sweep's query and its update
        assert [ServiceHealth.mark_unknown_if_overdue(pk, later) for pk in overdue] == [False]
    assert ServiceHealth.objects.get().status == "healthy"
    assert not Alert.objects.exists()
