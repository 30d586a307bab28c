"""Sending notifications: Apprise, the lease that lets one task send a row, attempts, retries, giving up.

The models decide and record what is owed (`alerts.models.dispatch` makes one pending
`Notification` per channel); this module sends it. The rows, not Celery's queue, are
the record of what is still to send: a pending notification is sent by the task
holding its claim, until `claimed_until`; after that (the worker died) or after a
failed attempt's backoff, the dispatch sweep leases it to a new task. docs/alerting.md
("Notifications") describes the behaviour, and docs/reliability.md the two ways a
message can still go out twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import apprise
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from alerts.models import DeliveryStatus, Notification, NotificationChannel, Severity, TransitionKind


def lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)


def new_lease(now: datetime) -> dict[str, Any]:
    """The fields that give one delivery task the right to send, until the lease runs out."""
    return {"claim": uuid.uuid4(), "claimed_until": lease_end(now)}


def retry_delay(attempts: int) -> timedelta:
    """After the first failed attempt NOTIFY_RETRY_SECONDS (10 s), then doubling, capped at 10 minutes."""
    return timedelta(seconds=min(600, settings.NOTIFY_RETRY_SECONDS * 2 ** (attempts - 1)))


def create_leased(**fields: Any) -> Notification:
    """A new notification already leased to the caller, so the sweep leaves it alone."""
    return Notification.objects.create(**fields, **new_lease(timezone.now()))


def lease_new(notifications: list[Notification]) -> list[Notification]:
    """Lease notifications the caller has just created, in the transaction that created them.

    No other worker can see an uncommitted row, so the sweep cannot lease one of
    these between its creation and this update: each is as good as created leased.
    """
    for notification in notifications:
        lease = new_lease(timezone.now())
        Notification.objects.filter(pk=notification.pk).update(**lease)
        notification.claim, notification.claimed_until = lease["claim"], lease["claimed_until"]
    return notifications


def claim_due(now: datetime) -> list[Notification]:
    """Lease every due notification to a new task.

    Due: a new one whose task never ran (the worker died after the dispatch
    committed), a failed attempt whose backoff is over, or one whose lease ran out
    (the worker died before or while sending). The update re-checks every condition
    with the old claim, so two sweeps at once never lease one notification twice;
    rows are taken in key order so two PostgreSQL sweeps cannot deadlock.
    """
    return [n for n in Notification.objects.due(now).order_by("pk") if lease(n, now)]


def lease(notification: Notification, now: datetime) -> bool:
    """Lease one notification read as due, if it still is and nobody leased it since."""
    fields = new_lease(now)
    if not Notification.objects.due(now).filter(pk=notification.pk, claim=notification.claim).update(**fields):
        return False
    notification.claim, notification.claimed_until = fields["claim"], fields["claimed_until"]
    return True


def deliver(notification: Notification, final_attempt: bool = False) -> bool | None:
    """Try once, as the holder of the claim, and record the attempt.

    True when sent, False when it failed (due again after a backoff, or failed for
    good after NOTIFY_MAX_ATTEMPTS), None when it was not ours to send: sent or given
    up already, or its lease ran out and belongs, or will belong, to another task.
    """
    if not _start_attempt(notification):
        return None
    error = send(notification.channel, notification.title, notification.body, notify_type_for(notification))
    now = timezone.now()
    held, notification.claim, notification.claimed_until, notification.error = notification.claim, None, None, error
    if not error:
        # Sent is the truth even if our lease ran out meanwhile: recording it stops
        # the task that took over from sending it again (if it has not yet).
        notification.status, notification.sent_at = DeliveryStatus.SENT, now
        _record(notification, Q(status=DeliveryStatus.PENDING))
        return True
    if final_attempt or notification.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        notification.status = DeliveryStatus.FAILED
    else:
        notification.next_attempt_at = now + retry_delay(notification.attempts)
    # A failure is ours to record only while we hold the claim: a task that outlived
    # its lease must not overwrite what the one that took over recorded.
    _record(notification, Q(claim=held))
    return False


def _start_attempt(notification: Notification) -> bool:
    """Renew our lease for the attempt and count it, if the claim is still ours and live.

    Counting before sending means a message whose sending kills the worker every
    time still runs out of attempts instead of being retried forever.
    """
    now = timezone.now()
    ours = Notification.objects.filter(
        pk=notification.pk, claim=notification.claim, status=DeliveryStatus.PENDING, claimed_until__gt=now
    )
    if notification.claim is None or not ours.update(claimed_until=lease_end(now), attempts=F("attempts") + 1):
        return False
    notification.refresh_from_db(fields=["attempts", "claimed_until"])
    if notification.attempts > settings.NOTIFY_MAX_ATTEMPTS:
        # The last attempts died with their worker before they could record an outcome.
        held, notification.attempts = notification.claim, notification.attempts - 1
        notification.status, notification.claim, notification.claimed_until = DeliveryStatus.FAILED, None, None
        notification.error = (
            f"given up after {notification.attempts} attempts; the last stopped with its worker while sending"
        )
        _record(notification, Q(claim=held))
        return False
    return True


def _record(notification: Notification, condition: Q) -> None:
    fields = ["attempts", "error", "status", "sent_at", "next_attempt_at", "claim", "claimed_until"]
    Notification.objects.filter(condition, pk=notification.pk).update(**{f: getattr(notification, f) for f in fields})


def notify_type_for(notification: Notification) -> str:
    """How Apprise colours it: all clear is a success, else by the worst severity; a test is info."""
    kinds = set(notification.transitions.values_list("kind", flat=True))
    if not kinds:
        return apprise.NotifyType.INFO
    if kinds == {TransitionKind.RESOLVED}:
        return apprise.NotifyType.SUCCESS
    return apprise.NotifyType.FAILURE if notification.severity == Severity.CRITICAL else apprise.NotifyType.WARNING


def send(channel: NotificationChannel, title: str, body: str, notify_type: str = apprise.NotifyType.INFO) -> str:
    """Send now through Apprise. Returns '' on success, else what went wrong."""
    sender = apprise.Apprise()
    if not sender.add(channel.url):
        return "Apprise does not understand this channel's URL"
    with apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as captured:
        ok = sender.notify(title=title, body=body, notify_type=notify_type)
    if ok:
        return ""
    return captured.getvalue().strip()[-1000:] or "Apprise reported a failure"
