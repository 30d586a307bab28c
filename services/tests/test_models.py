"""ServiceHealth and ServiceEvent: ordering, duplicates, alerts, flips and races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from alerts.models import Alert, AlertState
from dashboard.models import LiveEvent
from services.models import DomainEvent, EventType, ServiceEvent, ServiceFlip, ServiceHealth

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def health(status: str, at: datetime, metrics: dict[str, Any] | None = None, error: str = "") -> DomainEvent:
    kind = EventType.SERVICE_HEALTHY if status == "healthy" else EventType.SERVICE_UNHEALTHY
    return DomainEvent(type=kind, service_name="seo", occurred_at=at, metrics=metrics, error_message=error)


def alert(kind: str, at: datetime, message: str = "queue high") -> DomainEvent:
    return DomainEvent(type=kind, service_name="seo", occurred_at=at, alert_id="q", severity="high", message=message)


def record(*events: DomainEvent) -> dict[str, int]:
    return dict(ServiceEvent.objects.record(list(events), via="http"))


@pytest.mark.django_db
def test_older_event_never_overwrites_newer_state() -> None:
    record(health("healthy", T0 + timedelta(seconds=30), metrics={"jobs": 2}))
    assert record(health("unhealthy", T0, error="old failure")) == {"outdated": 1}
    service = ServiceHealth.objects.get()
    assert (service.status, service.last_check, service.metrics) == ("healthy", T0 + timedelta(seconds=30), {"jobs": 2})
    assert not Alert.objects.exists()
    assert ServiceEvent.objects.filter(outcome="outdated").count() == 1  # logged all the same


@pytest.mark.django_db
def test_batch_out_of_order_ends_on_the_newest() -> None:
    record(
        health("healthy", T0 + timedelta(seconds=60)), health("unhealthy", T0), health("healthy", T0 + timedelta(30))
    )
    assert ServiceHealth.objects.get().last_check == T0 + timedelta(30)


@pytest.mark.django_db
def test_duplicate_event_is_stored_once() -> None:
    event = health("unhealthy", T0, error="down")
    assert record(event) == {"applied": 1}
    assert record(event) == {"duplicate": 1}
    assert ServiceEvent.objects.count() == 1
    assert Alert.objects.count() == 1
    assert ServiceFlip.objects.count() == 1


@pytest.mark.django_db
def test_flip_rows_record_only_changes() -> None:
    record(*(health("healthy", T0 + timedelta(seconds=s)) for s in (0, 30, 60)))
    record(health("unhealthy", T0 + timedelta(seconds=90)))
    flips = list(ServiceFlip.objects.values_list("old_status", "new_status"))
    assert flips == [("unknown", "healthy"), ("healthy", "unhealthy")]


@pytest.mark.django_db
def test_since_stays_while_the_status_holds() -> None:
    record(health("healthy", T0))
    since = ServiceHealth.objects.get().since
    record(health("healthy", T0 + timedelta(seconds=30)))
    assert ServiceHealth.objects.get().since == since


@pytest.mark.django_db
def test_a_services_alerts_are_about_the_service() -> None:
    # So a silence listing the service covers them (alerts.models.Silence.covers).
    record(health("unhealthy", T0, error="crawler stuck"), alert(EventType.ALERT_TRIGGERED, T0))
    firing = sorted(Alert.objects.firing().values_list("rule", "host", "service", "subject"))
    assert firing == [("event:q", None, "seo", "seo"), ("health-seo", None, "seo", "seo")]


@pytest.mark.django_db
def test_late_trigger_does_not_reopen_a_resolved_alert() -> None:
    record(alert(EventType.ALERT_RESOLVED, T0 + timedelta(seconds=10)))
    assert record(alert(EventType.ALERT_TRIGGERED, T0)) == {"outdated": 1}
    assert not Alert.objects.firing().exists()


@pytest.mark.django_db
def test_late_trigger_does_not_replace_a_newer_message() -> None:
    record(alert(EventType.ALERT_TRIGGERED, T0 + timedelta(seconds=10), message="queue very high"))
    record(alert(EventType.ALERT_TRIGGERED, T0, message="queue high"))
    assert Alert.objects.get().message == "queue very high"


@pytest.mark.django_db
def test_newer_trigger_after_resolution_fires_again() -> None:
    record(alert(EventType.ALERT_TRIGGERED, T0), alert(EventType.ALERT_RESOLVED, T0 + timedelta(seconds=5)))
    record(alert(EventType.ALERT_TRIGGERED, T0 + timedelta(seconds=10)))
    assert list(Alert.objects.order_by("id").values_list("state", flat=True)) == [
        AlertState.RESOLVED,
        AlertState.FIRING,
    ]


@pytest.mark.django_db
def test_alert_events_do_not_make_a_service_tracked() -> None:
    record(alert(EventType.ALERT_TRIGGERED, T0))
    assert not ServiceHealth.objects.tracked().exists()


@pytest.mark.django_db
def test_status_change_pushes_sentiment_updated(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        record(health("healthy", T0))
    pushed = list(LiveEvent.objects.values_list("group", "payload"))
    assert pushed == [("hosts", {"type": "sentiment.updated"})]


@pytest.mark.django_db
def test_same_status_pushes_nothing(django_capture_on_commit_callbacks: Any) -> None:
    record(health("healthy", T0))
    with django_capture_on_commit_callbacks(execute=True):
        record(health("healthy", T0 + timedelta(seconds=30)))
    assert not LiveEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_events_for_one_service_keep_the_newest() -> None:
    """Eight writers at once, in shuffled order: the newest checkedAt wins and no event is lost."""
    times = [T0 + timedelta(seconds=s) for s in (70, 0, 50, 10, 60, 20, 40, 30)]
    statuses = ["healthy", "unhealthy"] * 4
    barrier = threading.Barrier(len(times))
    errors: list[BaseException] = []

    def send(status: str, at: datetime) -> None:
        try:
            barrier.wait()
            record(health(status, at))
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=args) for args in zip(statuses, times, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    service = ServiceHealth.objects.get()
    assert (service.last_check, service.status) == (T0 + timedelta(seconds=70), "healthy")
    assert ServiceEvent.objects.count() == 8
