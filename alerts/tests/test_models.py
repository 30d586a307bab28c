"""fire()/resolve(): the seam other parts raise alerts through, recorded as transitions; what a silence
covers; how long resolved alerts are kept."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from alerts.models import (
    Alert,
    AlertState,
    AlertTransition,
    AuditAction,
    AuditEntry,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    Silence,
    TransitionKind,
    prune_history,
)
from hosts.models import Host

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


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


@pytest.mark.django_db
def test_two_services_alerts_under_the_same_rule_and_subject_are_two_alerts() -> None:
    # Forwarded alerts are keyed by the producer's alert id, which two services may share.
    Alert.objects.fire("event:disk-full", service="billing-api", subject="disk-full")
    Alert.objects.fire("event:disk-full", service="search", subject="disk-full")
    assert sorted(Alert.objects.firing().values_list("service", flat=True)) == ["billing-api", "search"]
    assert Alert.objects.resolve("event:disk-full", service="search", subject="disk-full") is not None
    assert list(Alert.objects.firing().values_list("service", flat=True)) == ["billing-api"]


# --- What a silence covers -----------------------------------------------------------------


def window(**targets: Any) -> Silence:
    return Silence.objects.create(ends_at=datetime(2099, 1, 1, tzinfo=UTC), reason="maintenance", **targets)


@pytest.mark.django_db
def test_a_silence_listing_a_service_covers_that_services_alerts_alone(host: Host) -> None:
    silence = window(services=["billing-api"])
    assert silence.covers(Alert.objects.fire("health-billing-api", service="billing-api", subject="billing-api"))
    assert not silence.covers(Alert.objects.fire("health-search", service="search", subject="search"))
    assert not silence.covers(Alert.objects.fire("certificate_expiring", subject="hub.crt"))
    assert not silence.covers(Alert.objects.fire("cpu", host=host))


@pytest.mark.django_db
def test_a_hub_silence_covers_the_hubs_own_alerts_alone(host: Host) -> None:
    silence = window(hub=True)
    assert silence.covers(Alert.objects.fire("certificate_expiring", subject="hub.crt"))
    assert not silence.covers(Alert.objects.fire("health-search", service="search", subject="search"))
    assert not silence.covers(Alert.objects.fire("cpu", host=host))


@pytest.mark.django_db
def test_a_host_or_tag_silence_covers_no_service_or_hub_alert(host: Host) -> None:
    silence = window(tags=host.tags)
    silence.hosts.add(host)
    assert silence.covers(Alert.objects.fire("cpu", host=host))
    assert not silence.covers(Alert.objects.fire("health-search", service="search", subject="search"))
    assert not silence.covers(Alert.objects.fire("certificate_expiring", subject="hub.crt"))


@pytest.mark.django_db
def test_an_active_service_silence_is_the_alerts_active_silence() -> None:
    alert = Alert.objects.fire("stale-search", service="search", subject="search")
    silence = window(services=["search"])
    assert alert.active_silence() == silence


@pytest.mark.django_db
def test_silencing_from_an_alert_covers_what_it_is_about(host: Host) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    times = {"starts_at": now, "ends_at": now + timedelta(hours=1), "reason": "r", "created_by": None}
    for_host = Silence.objects.cover(Alert.objects.fire("cpu", host=host), **times)
    for_service = Silence.objects.cover(Alert.objects.fire("health-a", service="a", subject="a"), **times)
    for_hub = Silence.objects.cover(Alert.objects.fire("certificate_expiring", subject="hub.crt"), **times)
    assert (list(for_host.hosts.all()), for_host.services, for_host.hub) == ([host], [], False)
    assert (list(for_service.hosts.all()), for_service.services, for_service.hub) == ([], ["a"], False)
    assert (list(for_hub.hosts.all()), for_hub.services, for_hub.hub) == ([], [], True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "services",
    ["billing-api", [""], ["has space"], ["-leading-dash"], ["x" * 81], [42], {"name": "billing-api"}],
    ids=["not-a-list", "empty", "space", "leading-dash", "too-long", "not-a-string", "an-object"],
)
def test_a_silence_naming_services_badly_is_refused(services: Any) -> None:
    silence = Silence(ends_at=datetime(2099, 1, 1, tzinfo=UTC), reason="r", services=services)
    with pytest.raises(ValidationError) as caught:
        silence.full_clean()
    assert list(caught.value.message_dict) == ["services"]


@pytest.mark.django_db
def test_upgrading_names_the_service_of_alerts_services_raised_before() -> None:
    migration = import_module("alerts.migrations.0007_service_alerts_name_their_service")
    for rule in ("health-search", "stale-search", "event:disk-full"):
        Alert.objects.create(rule=rule, subject="search", state=AlertState.RESOLVED)
    Alert.objects.create(rule="health-search", subject="search")  # still firing
    Alert.objects.create(rule="certificate_expiring", subject="hub.crt")  # the hub's own
    migration.name_the_service(apps, None)
    services = sorted(Alert.objects.values_list("rule", "service"))
    assert services == [
        ("certificate_expiring", ""),
        ("event:disk-full", "search"),
        ("health-search", "search"),
        ("health-search", "search"),
        ("stale-search", "search"),
    ]
    assert Alert.objects.resolve("health-search", service="search", subject="search") is not None


# --- How long resolved alerts are kept -------------------------------------------------------


def resolved_alert(host: Host, resolved_at: datetime, rule: str = "cpu") -> Alert:
    with time_machine.travel(resolved_at - timedelta(hours=1), tick=False):
        Alert.objects.fire(rule, host=host)
    with time_machine.travel(resolved_at, tick=False):
        alert = Alert.objects.resolve(rule, host=host)
    assert alert is not None
    return alert


@pytest.mark.django_db
def test_an_alert_resolved_longer_ago_than_the_retention_goes_with_its_transitions(host: Host) -> None:
    old = resolved_alert(host, NOW - timedelta(days=365, seconds=1))
    deleted = prune_history(NOW)
    assert not Alert.objects.filter(pk=old.pk).exists()
    assert not AlertTransition.objects.exists()
    assert deleted == {"alerts": 1, "transitions": 2, "notifications": 0}


@pytest.mark.django_db
def test_an_alert_resolved_exactly_the_retention_ago_is_kept(host: Host) -> None:
    kept = resolved_alert(host, NOW - timedelta(days=365))
    prune_history(NOW)
    assert kept.transitions.count() == 2


@pytest.mark.django_db
def test_the_retention_follows_the_setting(host: Host, settings: Any) -> None:
    settings.ALERT_RETENTION_DAYS = 30
    old = resolved_alert(host, NOW - timedelta(days=30, seconds=1), rule="disk")
    recent = resolved_alert(host, NOW - timedelta(days=29), rule="cpu")
    prune_history(NOW)
    assert list(Alert.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not AlertTransition.objects.filter(alert_id=old.pk).exists()


@pytest.mark.django_db
def test_a_firing_alert_keeps_its_whole_history_however_old(host: Host) -> None:
    with time_machine.travel(NOW - timedelta(days=800), tick=False):
        firing = Alert.objects.fire("cpu", host=host, severity="warning")
    with time_machine.travel(NOW - timedelta(days=700), tick=False):
        Alert.objects.fire("cpu", host=host, severity="critical")
    prune_history(NOW)
    assert firing.transitions.count() == 2


@pytest.mark.django_db
def test_notifications_go_once_they_carry_nothing_and_are_older_than_the_retention(host: Host) -> None:
    channel = NotificationChannel.objects.create(name="hook", url="json://127.0.0.1:9/")
    old = resolved_alert(host, NOW - timedelta(days=400), rule="disk")
    kept = resolved_alert(host, NOW - timedelta(days=10), rule="cpu")
    long_ago = NOW - timedelta(days=400)

    def notification(status: str, *alerts: Alert) -> Notification:
        made = Notification.objects.create(channel=channel, title="t", body="b", status=status, created_at=long_ago)
        made.transitions.set(AlertTransition.objects.filter(alert__in=alerts))
        return made

    about_the_old_alert = notification(DeliveryStatus.SENT, old)
    about_both = notification(DeliveryStatus.SENT, old, kept)
    a_test_message = notification(DeliveryStatus.FAILED)
    still_owed = notification(DeliveryStatus.PENDING, old)

    deleted = prune_history(NOW)

    assert deleted["notifications"] == 2
    remaining = set(Notification.objects.values_list("pk", flat=True))
    assert remaining == {about_both.pk, still_owed.pk}
    assert {about_the_old_alert.pk, a_test_message.pk}.isdisjoint(remaining)
    assert set(about_both.transitions.values_list("alert_id", flat=True)) == {kept.pk}


@pytest.mark.django_db
def test_audit_entries_outlive_the_alerts_they_name(host: Host) -> None:
    old = resolved_alert(host, NOW - timedelta(days=400))
    entry = AuditEntry.record(None, AuditAction.ACKNOWLEDGE, alert=old)
    prune_history(NOW)
    entry.refresh_from_db()
    assert entry.alert is None and entry.detail == str(old)


@pytest.mark.django_db
def test_pruning_goes_in_batches_until_done(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("alerts.models.PRUNE_BATCH", 2)
    for number in range(5):
        resolved_alert(host, NOW - timedelta(days=400, minutes=number), rule=f"rule-{number}")
    assert prune_history(NOW)["alerts"] == 5
    assert not Alert.objects.exists()
