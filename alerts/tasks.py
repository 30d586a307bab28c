"""Beat sweeps for alerting. Thin: each calls model and delivery functions that are safe to run twice at once."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts import certificates, delivery
from alerts.evaluate import check_offline, promote_due_breaches
from alerts.models import AlertTransition, Notification, dispatch, prune_history, queue_reminders
from statusdash.lib.observability import timed_sweep

log = logging.getLogger("statusdash.alerts")


@shared_task
@timed_sweep("alerts.sweep_alerts")
def sweep_alerts() -> None:
    """Every ALERT_SWEEP_SECONDS: durations reached, hosts gone offline, reminders due."""
    now = timezone.now()
    promote_due_breaches(now)
    check_offline(now)
    queue_reminders(now)


@shared_task
@timed_sweep("alerts.dispatch_notifications")
def dispatch_notifications() -> int:
    """Turn what changed within the grouping window into one notification per channel,
    and hand every delivery that is due (a retry, or one a dead worker left) to a task."""
    now = timezone.now()
    window = timedelta(seconds=settings.ALERT_GROUP_WINDOW_SECONDS)
    with transaction.atomic():
        due = delivery.claim_due(now)
        transitions = AlertTransition.objects.claim_batch(now, window)
        notifications = delivery.lease_new(dispatch(transitions, now)) if transitions else []
        for notification in [*due, *notifications]:
            deliver_notification.delay_on_commit(notification.pk, str(notification.claim))
    if transitions or due:
        log.info(
            "alerts dispatched",
            extra={"transitions": len(transitions), "notifications": len(notifications), "retries": len(due)},
        )
    return len(notifications)


@shared_task
@timed_sweep("alerts.prune_history")
def prune_alert_history() -> dict[str, int]:
    """Hourly: resolved alerts and their history past ALERT_RETENTION_DAYS."""
    deleted = prune_history(timezone.now())
    if any(deleted.values()):
        log.info("alert history pruned", extra=deleted)
    return deleted


@shared_task
def deliver_notification(notification_id: int, claim: str | None = None) -> None:
    """Send one notification if this task still holds a live claim; the sweep schedules retries."""
    if claim is None:
        return  # queued by a version without leases; the dispatch sweep sends the row
    notification = Notification.objects.select_related("channel").filter(pk=notification_id, claim=claim).first()
    if notification is None:
        return  # sent, given up, or its lease passed to a newer task
    if delivery.deliver(notification) is False:
        log.warning(
            "notification not delivered",
            extra={
                "channel": notification.channel.name,
                "attempt": notification.attempts,
                "status": notification.status,
                "error": notification.error,
            },
        )


# The name it had under hosts/, so a task queued by the previous version still runs.
@shared_task(name="hosts.tasks.check_certificate_expiry")
@timed_sweep("hosts.check_certificate_expiry")
def check_certificate_expiry() -> dict[str, int]:
    """Fire or resolve `certificate-expiring` for every enabled host (alerts/certificates.py)."""
    return certificates.check_certificate_expiry(timezone.now())
