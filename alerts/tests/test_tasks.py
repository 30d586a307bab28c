"""Beat sweeps, run with .apply(): offline hosts, durations, reminders, dispatch (grouping, routing, silences),
history pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from alerts import delivery
from alerts.models import (
    Alert,
    AlertRule,
    AlertTransition,
    Breach,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    Outcome,
    Silence,
)
from alerts.tasks import deliver_notification, prune_alert_history, sweep_alerts
from hosts.models import Host

from .conftest import START, Receiver, dispatch


@pytest.mark.django_db
def test_sweep_fires_offline_for_a_silent_host_and_resolves_when_it_returns(host: Host, clock: Any) -> None:
    host.last_seen = START
    host.save()
    clock.shift(timedelta(seconds=59))  # 6 intervals of 10 s: not yet
    sweep_alerts.apply()
    assert not Alert.objects.firing().exists()
    clock.shift(timedelta(seconds=2))
    sweep_alerts.apply()
    [alert] = Alert.objects.firing()
    assert (alert.rule, alert.severity, alert.host) == ("host_offline", "critical", host)
    sweep_alerts.apply()  # a second sweep (or two at once) changes nothing
    assert AlertTransition.objects.count() == 1
    host.last_seen = START + timedelta(seconds=61)
    host.save()
    sweep_alerts.apply()
    assert not Alert.objects.firing().exists()


@pytest.mark.django_db
def test_sweep_ignores_disabled_and_never_seen_hosts(host: Host, clock: Any) -> None:
    Host.objects.create(name="never-reported")
    host.last_seen, host.enabled = START - timedelta(hours=1), False
    host.save()
    sweep_alerts.apply()
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_sweep_fires_a_breach_that_reached_its_duration(host: Host, clock: Any) -> None:
    rule = AlertRule.objects.get(name="cpu")
    Breach.objects.create(rule=rule, host=host, since=START, severity="warning", value=95.0, updated_at=START)
    clock.shift(timedelta(seconds=30))
    sweep_alerts.apply()
    assert not Alert.objects.exists()
    Breach.objects.update(updated_at=START + timedelta(minutes=5))
    clock.shift(timedelta(minutes=5))
    sweep_alerts.apply()
    assert Alert.objects.firing().get().rule == "cpu"
    assert not Breach.objects.exists()


@pytest.mark.django_db
def test_sweep_drops_a_breach_whose_host_went_quiet(host: Host, clock: Any) -> None:
    rule = AlertRule.objects.get(name="cpu")
    Breach.objects.create(rule=rule, host=host, since=START, severity="warning", value=95.0, updated_at=START)
    clock.shift(timedelta(minutes=10))
    sweep_alerts.apply()
    assert not Breach.objects.exists()
    assert not Alert.objects.filter(rule="cpu").exists()


@pytest.mark.django_db
def test_alerts_firing_together_go_out_as_one_message(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    hosts = [Host.objects.create(name=f"rack-{i}") for i in range(5)]
    for h in hosts:
        Alert.objects.fire("host_offline", host=h, severity="critical", message=f"{h.name} is down")
    clock.shift(timedelta(seconds=29))
    assert dispatch(django_capture_on_commit_callbacks) == 0  # still inside the 30 s window
    Alert.objects.fire("disk", host=host, subject="/", message="disk / at 95%")  # joins the group
    clock.shift(timedelta(seconds=1))
    assert dispatch(django_capture_on_commit_callbacks) == 1
    [message] = receiver.messages
    assert message["title"] == "statusdash: 6 firing"
    assert message["type"] == "failure"  # the worst severity in the group
    for h in hosts:
        assert f"{h.name} is down" in message["message"]
    notification = Notification.objects.get()
    assert notification.status == DeliveryStatus.SENT and notification.transitions.count() == 6
    assert dispatch(django_capture_on_commit_callbacks) == 0  # claimed once


@pytest.mark.django_db
def test_a_single_alert_is_titled_by_itself_and_its_resolution_follows(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Alert.objects.fire("disk", host=host, subject="/", severity="warning", message="disk / at 91%", value=91)
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    Alert.objects.resolve("disk", host=host, subject="/")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    assert [(m["title"], m["type"]) for m in receiver.messages] == [
        ("FIRING [WARNING] Web 1: disk / at 91% (91)", "warning"),
        ("RESOLVED [WARNING] Web 1: disk / at 91% (91)", "success"),
    ]


@pytest.mark.django_db
def test_channels_route_by_severity_and_tag(
    host: Host, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pager = NotificationChannel.objects.create(name="pager", url=receiver.url, min_severity="critical")
    db_team = NotificationChannel.objects.create(name="db team", url=receiver.url, tags=["db"])
    everyone = NotificationChannel.objects.create(name="everyone", url=receiver.url)
    db_host = Host.objects.create(name="db-1", tags=["db"])
    Alert.objects.fire("disk", host=host, subject="/", severity="warning")
    Alert.objects.fire("host_offline", host=db_host, severity="critical")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    sent = {n.channel.name: sorted(t.alert.rule for t in n.transitions.all()) for n in Notification.objects.all()}
    assert sent == {
        pager.name: ["host_offline"],
        db_team.name: ["host_offline"],
        everyone.name: ["disk", "host_offline"],
    }


@pytest.mark.django_db
def test_silenced_hosts_keep_history_but_send_nothing(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Silence.objects.create(tags=["prod"], ends_at=START + timedelta(hours=1), reason="kernel upgrade")
    Alert.objects.fire("host_offline", host=host, severity="critical")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    assert receiver.messages == []
    assert AlertTransition.objects.get().outcome == Outcome.SILENCED
    assert Alert.objects.firing().count() == 1
    clock.shift(timedelta(hours=1))  # the window is over: the recovery is news again
    Alert.objects.resolve("host_offline", host=host)
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    assert [m["title"].split()[0] for m in receiver.messages] == ["RESOLVED"]


@pytest.mark.django_db
def test_a_silenced_service_keeps_its_history_but_sends_nothing(
    channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # A maintenance window for one service: its alerts are held back, another service's are not.
    Silence.objects.create(services=["billing-api"], ends_at=START + timedelta(hours=1), reason="db migration")
    Alert.objects.fire("health-billing-api", service="billing-api", subject="billing-api", severity="critical")
    Alert.objects.fire("health-search", service="search", subject="search", severity="critical")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    outcomes = dict(AlertTransition.objects.values_list("alert__service", "outcome"))
    assert outcomes == {"billing-api": Outcome.SILENCED, "search": Outcome.NOTIFIED}
    assert [m["title"] for m in receiver.messages] == ["FIRING [CRITICAL] service search: health-search search"]


@pytest.mark.django_db
def test_a_hub_silence_holds_back_the_hubs_own_alerts(
    channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Silence.objects.create(hub=True, ends_at=START + timedelta(hours=1), reason="renewing the hub's certificate")
    Alert.objects.fire("certificate_expiring", subject="hub.crt")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    assert receiver.messages == []
    assert AlertTransition.objects.get().outcome == Outcome.SILENCED


def test_beat_prunes_alert_history_hourly() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["alerts-prune"]
    assert (entry["task"], entry["schedule"]) == ("alerts.tasks.prune_alert_history", 3600)
    assert settings.ALERT_RETENTION_DAYS == 365  # the default, with no environment


@pytest.mark.django_db
def test_the_prune_task_forgets_alerts_resolved_before_the_retention(host: Host) -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    with time_machine.travel(now - timedelta(days=366), tick=False):
        Alert.objects.fire("cpu", host=host)
        Alert.objects.resolve("cpu", host=host)
    with time_machine.travel(now, tick=False):
        assert prune_alert_history.apply().get() == {"alerts": 1, "transitions": 2, "notifications": 0}
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_an_alert_silenced_when_it_fired_is_news_once_the_silence_is_over(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Silence.objects.create(tags=["prod"], ends_at=START + timedelta(hours=1), reason="upgrade")
    Alert.objects.fire("disk", host=host, subject="/", message="disk / at 95%")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    assert receiver.messages == []
    clock.shift(timedelta(hours=4))
    sweep_alerts.apply()
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    assert [m["title"].split(" [")[0] for m in receiver.messages] == ["STILL FIRING"]


@pytest.mark.django_db
def test_reminders_repeat_until_acknowledged(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    alert = Alert.objects.fire("disk", host=host, subject="/", message="disk / at 95%")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    clock.shift(timedelta(hours=3, minutes=59))
    sweep_alerts.apply()
    assert not AlertTransition.objects.filter(kind="reminder").exists()
    clock.shift(timedelta(minutes=1))
    sweep_alerts.apply()
    sweep_alerts.apply()  # a second sweep in the same instant queues nothing more
    assert AlertTransition.objects.filter(kind="reminder").count() == 1
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    assert receiver.messages[-1]["title"].startswith("STILL FIRING")
    alert.acknowledge(User.objects.create(username="ana"))
    clock.shift(timedelta(hours=5))
    sweep_alerts.apply()
    dispatch(django_capture_on_commit_callbacks)
    assert len(receiver.messages) == 2


@pytest.mark.django_db
def test_a_task_queued_before_leases_existed_leaves_the_row_to_the_sweep(
    host: Host, channel: NotificationChannel, receiver: Receiver
) -> None:
    notification = Notification.objects.create(channel=channel, title="t", body="b")
    deliver_notification.apply(args=(notification.pk,))  # the old signature: no claim
    assert receiver.posts == 0 and delivery.claim_due(timezone.now()) != []


@pytest.mark.django_db
def test_transitions_without_a_channel_are_marked_so(
    host: Host, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Alert.objects.fire("disk", host=host, subject="/")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    transition = AlertTransition.objects.get()
    assert transition.outcome == Outcome.NO_CHANNEL and transition.processed_at is not None
