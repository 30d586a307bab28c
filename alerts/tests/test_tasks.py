"""Beat sweeps, run with .apply(): offline hosts, durations, reminders, dispatch and delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

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
    retry_delay,
)
from alerts.tasks import deliver_notification, dispatch_notifications, sweep_alerts
from hosts.models import Host

from .conftest import Receiver

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def channel(receiver: Receiver, db: Any) -> NotificationChannel:
    return NotificationChannel.objects.create(name="ops webhook", url=receiver.url)


def dispatch(capture: Any) -> int:
    with capture(execute=True):
        return dispatch_notifications.apply().get()


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
def test_a_failed_delivery_is_retried_by_the_sweep_with_backoff_then_logged_as_sent(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    receiver.fail_first = 2
    Alert.objects.fire("disk", host=host, subject="/")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == (DeliveryStatus.PENDING, 1)
    assert "500" in notification.error
    clock.shift(timedelta(seconds=9))
    dispatch(django_capture_on_commit_callbacks)  # the 10 s backoff is not over
    assert receiver.posts == 1
    clock.shift(timedelta(seconds=1))
    dispatch(django_capture_on_commit_callbacks)
    assert receiver.posts == 2
    clock.shift(timedelta(seconds=19))
    dispatch(django_capture_on_commit_callbacks)  # doubled: 20 s
    assert receiver.posts == 2
    clock.shift(timedelta(seconds=1))
    dispatch(django_capture_on_commit_callbacks)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.error) == (DeliveryStatus.SENT, 3, "")
    assert len(receiver.messages) == 1
    assert list(Alert.objects.get().deliveries()) == [notification]
    clock.shift(timedelta(hours=1))
    dispatch(django_capture_on_commit_callbacks)
    assert receiver.posts == 3  # sent is final


@pytest.mark.django_db
def test_a_delivery_failing_every_attempt_is_logged_as_failed(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    receiver.fail_first = 100
    Alert.objects.fire("disk", host=host, subject="/")
    for _ in range(10):
        clock.shift(timedelta(minutes=10))
        dispatch(django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    assert notification.status == DeliveryStatus.FAILED
    assert notification.attempts == receiver.posts == settings.NOTIFY_MAX_ATTEMPTS
    assert "500" in notification.error


def test_retries_back_off_exponentially() -> None:
    assert [retry_delay(n).total_seconds() for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 600, 600]


@pytest.mark.django_db
def test_a_notification_left_by_a_dead_worker_is_sent_once_its_lease_runs_out(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any
) -> None:
    """The worker died after the dispatch committed and before its delivery task ran."""
    Alert.objects.fire("disk", host=host, subject="/")
    clock.shift(timedelta(seconds=30))
    dispatch_notifications.apply()  # on-commit callbacks dropped: the task is never sent
    notification = Notification.objects.get()
    assert notification.status == DeliveryStatus.PENDING and notification.claim is not None
    lease = timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    clock.shift(lease - timedelta(seconds=1))
    assert Notification.objects.claim_due(timezone.now()) == []  # the task may still come
    clock.shift(timedelta(seconds=2))
    [reclaimed] = Notification.objects.claim_due(timezone.now())
    assert reclaimed.claim != notification.claim
    deliver_notification.apply(args=(notification.pk, str(notification.claim)))  # the first task, late
    assert receiver.posts == 0, "a task whose lease passed to another must not send"
    deliver_notification.apply(args=(reclaimed.pk, str(reclaimed.claim)))
    deliver_notification.apply(args=(reclaimed.pk, str(reclaimed.claim)))  # delivered twice by the broker
    reclaimed.refresh_from_db()
    assert reclaimed.status == DeliveryStatus.SENT
    assert receiver.posts == 1 and len(receiver.messages) == 1


@pytest.mark.django_db
def test_a_sweep_working_from_a_stale_read_leases_nothing(host: Host, channel: NotificationChannel, clock: Any) -> None:
    """Two sweeps at once: the second read the row before the first leased it."""
    notification = Notification.objects.create(channel=channel, title="t", body="b")  # due, never leased
    [stale] = Notification.objects.due(timezone.now())
    [leased] = Notification.objects.claim_due(timezone.now())
    assert not Notification.objects.lease(stale, timezone.now())
    # Or the first task already tried, failed and released it for a backoff that is not over.
    Notification.objects.filter(pk=notification.pk).update(
        claim=None, claimed_until=None, next_attempt_at=timezone.now() + timedelta(seconds=10)
    )
    assert not Notification.objects.lease(stale, timezone.now())
    assert Notification.objects.get().claim is None and leased.claim is not None


def leased_notification(channel: NotificationChannel) -> Notification:
    notification = Notification.objects.create_claimed(channel=channel, title="t", body="b")
    return Notification.objects.select_related("channel").get(pk=notification.pk)


def take_over_during_send(receiver: Receiver, clock: Any) -> list[Notification]:
    """While the message is on the wire, the lease runs out and a sweep leases it to another task."""
    taken: list[Notification] = []

    def sweep() -> None:
        taken.append(Notification.objects.get())  # as the sending attempt left it
        clock.shift(timedelta(seconds=settings.NOTIFY_LEASE_SECONDS + 1))
        taken.extend(Notification.objects.claim_due(timezone.now()))
        connection.close()

    receiver.on_post = sweep
    return taken


@pytest.mark.django_db(transaction=True)
def test_a_send_that_outlived_its_lease_is_still_recorded_as_sent_and_not_sent_again(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any
) -> None:
    notification = leased_notification(channel)
    taken = take_over_during_send(receiver, clock)
    assert notification.deliver() is True
    during, successor = taken
    assert during.attempts == 1, "the attempt is counted before the message goes out"
    assert Notification.objects.get().status == DeliveryStatus.SENT
    receiver.on_post = None
    deliver_notification.apply(args=(successor.pk, str(successor.claim)))
    assert receiver.posts == 1


@pytest.mark.django_db(transaction=True)
def test_a_failure_that_outlived_its_lease_does_not_overwrite_the_task_that_took_over(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any
) -> None:
    receiver.fail_first = 1
    notification = leased_notification(channel)
    taken = take_over_during_send(receiver, clock)
    assert notification.deliver() is False
    _, successor = taken
    row = Notification.objects.get()
    assert (row.claim, row.status, row.error) == (successor.claim, DeliveryStatus.PENDING, "")
    receiver.on_post = None
    deliver_notification.apply(args=(successor.pk, str(successor.claim)))
    row.refresh_from_db()
    assert (row.status, row.attempts, receiver.posts, len(receiver.messages)) == (DeliveryStatus.SENT, 2, 2, 1)


@pytest.mark.django_db
def test_a_message_whose_sending_keeps_killing_the_worker_is_given_up(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any
) -> None:
    """Every attempt so far was counted and then died with its worker, leaving no outcome."""
    notification = leased_notification(channel)
    Notification.objects.filter(pk=notification.pk).update(attempts=settings.NOTIFY_MAX_ATTEMPTS)
    clock.shift(timedelta(seconds=settings.NOTIFY_LEASE_SECONDS + 1))
    [leased] = Notification.objects.claim_due(timezone.now())
    deliver_notification.apply(args=(leased.pk, str(leased.claim)))
    row = Notification.objects.get()
    assert (row.status, row.attempts, receiver.posts) == (DeliveryStatus.FAILED, settings.NOTIFY_MAX_ATTEMPTS, 0)
    assert "stopped with its worker" in row.error
    assert Notification.objects.claim_due(timezone.now() + timedelta(days=1)) == []


@pytest.mark.django_db
def test_a_task_queued_before_leases_existed_leaves_the_row_to_the_sweep(
    host: Host, channel: NotificationChannel, receiver: Receiver
) -> None:
    notification = Notification.objects.create(channel=channel, title="t", body="b")
    deliver_notification.apply(args=(notification.pk,))  # the old signature: no claim
    assert receiver.posts == 0 and Notification.objects.claim_due(timezone.now()) != []


@pytest.mark.django_db
def test_transitions_without_a_channel_are_marked_so(
    host: Host, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Alert.objects.fire("disk", host=host, subject="/")
    clock.shift(timedelta(seconds=30))
    dispatch(django_capture_on_commit_callbacks)
    transition = AlertTransition.objects.get()
    assert transition.outcome == Outcome.NO_CHANNEL and transition.processed_at is not None
