"""Delivery: retries with backoff, giving up, and the lease that lets one task send a notification."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from alerts import delivery
from alerts.models import Alert, DeliveryStatus, Notification, NotificationChannel
from alerts.tasks import deliver_notification, dispatch_notifications
from hosts.models import Host

from .conftest import Receiver, dispatch


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
    assert [delivery.retry_delay(n).total_seconds() for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 600, 600]


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
    assert delivery.claim_due(timezone.now()) == []  # the task may still come
    clock.shift(timedelta(seconds=2))
    [reclaimed] = delivery.claim_due(timezone.now())
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
    [leased] = delivery.claim_due(timezone.now())
    assert not delivery.lease(stale, timezone.now())
    # Or the first task already tried, failed and released it for a backoff that is not over.
    Notification.objects.filter(pk=notification.pk).update(
        claim=None, claimed_until=None, next_attempt_at=timezone.now() + timedelta(seconds=10)
    )
    assert not delivery.lease(stale, timezone.now())
    assert Notification.objects.get().claim is None and leased.claim is not None


def leased_notification(channel: NotificationChannel) -> Notification:
    notification = delivery.create_leased(channel=channel, title="t", body="b")
    return Notification.objects.select_related("channel").get(pk=notification.pk)


def take_over_during_send(receiver: Receiver, clock: Any) -> list[Notification]:
    """While the message is on the wire, the lease runs out and a sweep leases it to another task."""
    taken: list[Notification] = []

    def sweep() -> None:
        taken.append(Notification.objects.get())  # as the sending attempt left it
        clock.shift(timedelta(seconds=settings.NOTIFY_LEASE_SECONDS + 1))
        taken.extend(delivery.claim_due(timezone.now()))
        connection.close()

    receiver.on_post = sweep
    return taken


@pytest.mark.django_db(transaction=True)
def test_a_send_that_outlived_its_lease_is_still_recorded_as_sent_and_not_sent_again(
    host: Host, channel: NotificationChannel, receiver: Receiver, clock: Any
) -> None:
    notification = leased_notification(channel)
    taken = take_over_during_send(receiver, clock)
    assert delivery.deliver(notification) is True
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
    assert delivery.deliver(notification) is False
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
    [leased] = delivery.claim_due(timezone.now())
    deliver_notification.apply(args=(leased.pk, str(leased.claim)))
    row = Notification.objects.get()
    assert (row.status, row.attempts, receiver.posts) == (DeliveryStatus.FAILED, settings.NOTIFY_MAX_ATTEMPTS, 0)
    assert "stopped with its worker" in row.error
    assert delivery.claim_due(timezone.now() + timedelta(days=1)) == []
