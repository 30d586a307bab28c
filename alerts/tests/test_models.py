"""fire()/resolve(): the seam other parts raise alerts through, recorded as transitions."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import IntegrityError

from alerts.models import Alert, AlertState, AlertTransition, TransitionKind
from hosts.models import Host


@pytest.mark.django_db
def test_fire_opens_an_alert_with_a_triggered_transition(host: Host) -> None:
    alert = Alert.objects.fire("disk", host=host, subject="/", severity="warning", message="full", value=91.0)
    transition = alert.transitions.get()
    assert (transition.old_state, transition.new_state, transition.kind) == ("", "firing", "triggered")
    assert transition.processed_at is None
    assert (alert.peak_value, alert.last_value) == (91.0, 91.0)


@pytest.mark.django_db
def test_fire_again_updates_without_a_new_transition(host: Host) -> None:
    Alert.objects.fire("disk", host=host, subject="/", value=91.0)
    alert = Alert.objects.fire("disk", host=host, subject="/", value=95.0, message="fuller")
    assert Alert.objects.count() == 1
    assert alert.transitions.count() == 1
    assert (alert.peak_value, alert.last_value, alert.message) == (95.0, 95.0, "fuller")


@pytest.mark.django_db
def test_a_change_of_severity_is_a_transition(host: Host) -> None:
    Alert.objects.fire("disk", host=host, subject="/", severity="warning")
    alert = Alert.objects.fire("disk", host=host, subject="/", severity="critical")
    kinds = list(alert.transitions.order_by("created_at", "id").values_list("kind", "severity"))
    assert kinds == [("triggered", "warning"), (TransitionKind.SEVERITY, "critical")]


@pytest.mark.django_db
def test_resolve_records_the_transition_and_is_idempotent(host: Host) -> None:
    Alert.objects.fire("cpu", host=host)
    alert = Alert.objects.resolve("cpu", host=host)
    assert alert is not None and alert.state == AlertState.RESOLVED and alert.resolved_at is not None
    assert Alert.objects.resolve("cpu", host=host) is None
    assert list(AlertTransition.objects.values_list("new_state", flat=True).order_by("id")) == ["firing", "resolved"]


@pytest.mark.django_db
def test_firing_after_resolving_opens_a_new_alert(host: Host) -> None:
    first = Alert.objects.fire("cpu", host=host)
    Alert.objects.resolve("cpu", host=host)
    second = Alert.objects.fire("cpu", host=host)
    assert first.pk != second.pk


@pytest.mark.django_db
def test_hub_alerts_without_a_host_are_one_per_key() -> None:
    Alert.objects.fire("certificate_expiring", subject="hub.crt", severity="warning")
    Alert.objects.fire("certificate_expiring", subject="hub.crt", severity="warning")
    assert Alert.objects.firing().count() == 1
    with pytest.raises(IntegrityError):
        Alert.objects.create(rule="certificate_expiring", subject="hub.crt")


@pytest.mark.django_db
def test_transitions_log_the_domain_events_after_commit(
    host: Host, caplog: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with caplog.at_level(logging.INFO, logger="statusdash.alerts"):
        with django_capture_on_commit_callbacks(execute=True):
            Alert.objects.fire("cpu", host=host, severity="critical")
            assert caplog.records == []  # nothing is announced before the row is committed
        with django_capture_on_commit_callbacks(execute=True):
            Alert.objects.resolve("cpu", host=host)
    assert [r.getMessage() for r in caplog.records] == ["SYSTEM_ALERT_TRIGGERED", "SYSTEM_ALERT_RESOLVED"]
    assert caplog.records[0].severity == "critical"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_transitions_push_the_host_card_and_alert_lists(host: Host, django_capture_on_commit_callbacks: Any) -> None:
    from dashboard.models import LiveEvent

    with django_capture_on_commit_callbacks(execute=True):
        Alert.objects.fire("cpu", host=host)
    groups = set(LiveEvent.objects.values_list("group", flat=True))
    assert groups == {"hosts", f"host-{host.pk}", "alerts"}


@pytest.mark.django_db
def test_upgrading_fails_notifications_a_dead_worker_stranded_before_leases() -> None:
    from datetime import timedelta
    from importlib import import_module

    from django.apps import apps
    from django.utils import timezone

    from alerts.models import DeliveryStatus, Notification, NotificationChannel

    migration = import_module("alerts.migrations.0004_notification_lease")
    channel = NotificationChannel.objects.create(name="hook", url="json://127.0.0.1:9/")
    long_ago = timezone.now() - timedelta(hours=2)
    stranded = Notification.objects.create(channel=channel, title="old", body="b", created_at=long_ago)
    sent = Notification.objects.create(channel=channel, title="sent", body="b", created_at=long_ago, status="sent")
    recent = Notification.objects.create(channel=channel, title="new", body="b")
    migration.fail_stranded(apps, None)
    statuses = {n.pk: (n.status, n.error) for n in Notification.objects.all()}
    assert statuses[stranded.pk][0] == DeliveryStatus.FAILED and "worker that stopped" in statuses[stranded.pk][1]
    assert statuses[sent.pk] == (DeliveryStatus.SENT, "")
    assert statuses[recent.pk] == (DeliveryStatus.PENDING, "")
