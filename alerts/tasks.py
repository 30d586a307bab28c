"""Beat sweeps for alerting. Thin: each calls model functions that are safe to run twice at once."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.evaluate import check_offline, promote_due_breaches
from alerts.models import AlertTransition, Notification, dispatch, queue_reminders
from statusdash.observability import timed_sweep

log = logging.getLogger("statusdash.alerts")

MAX_DELIVERY_RETRIES = 5


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
    """Turn what changed within the grouping window into one notification per channel."""
    now = timezone.now()
    window = timedelta(seconds=settings.ALERT_GROUP_WINDOW_SECONDS)
    with transaction.atomic():
        transitions = AlertTransition.objects.claim_batch(now, window)
        if not transitions:
            return 0
        notifications = dispatch(transitions, now)
        for notification in notifications:
            deliver_notification.delay_on_commit(notification.pk)
    log.info("alerts dispatched", extra={"transitions": len(transitions), "notifications": len(notifications)})
    return len(notifications)


def retry_delay(retries: int) -> int:
    """Exponential backoff: 10 s, 20 s, 40 s, ... capped at 10 minutes."""
    return int(min(600, settings.NOTIFY_RETRY_SECONDS * 2**retries))


@shared_task(bind=True, max_retries=MAX_DELIVERY_RETRIES)
def deliver_notification(self: Task, notification_id: int) -> None:
    notification = Notification.objects.select_related("channel").filter(pk=notification_id).first()
    if notification is None:
        return
    final = self.request.retries >= self.max_retries
    if not notification.deliver(final_attempt=final):
        log.warning(
            "notification not delivered",
            extra={"channel": notification.channel.name, "attempt": notification.attempts, "error": notification.error},
        )
        if not final:
            raise self.retry(countdown=retry_delay(self.request.retries))
