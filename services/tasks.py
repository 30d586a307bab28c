"""Celery tasks: domain events from the queue, the staleness sweep, the availability roll-up."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from services.event_client import DOMAIN_EVENT_TASK
from services.models import DailyAvailability, ServiceEvent, ServiceHealth
from services.schemas import EventInvalid, parse_events
from statusdash.lib.observability import timed_sweep

log = logging.getLogger("services.event_client")


@shared_task(name=DOMAIN_EVENT_TASK, ignore_result=True)
def handle_domain_event(event: Any) -> dict[str, int]:
    """One event (or `{"events": [...]}`) from the `domain-events` queue; invalid ones are logged and dropped."""
    try:
        events = parse_events(event, loc=("event",))
    except EventInvalid as error:
        # Retrying cannot make it valid: say why once and drop it.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors)
        log.warning("domain event refused", extra={"errors": problems})
        return {"refused": 1}
    counts = dict(ServiceEvent.objects.record(events, via="queue"))
    log.info("domain events applied", extra=counts)
    return counts


@shared_task(name="services.sweep_stale")
@timed_sweep("services.sweep_stale")
def sweep_stale_services() -> int:
    """Services silent for 3 expected intervals become unknown, with an alert."""
    now = timezone.now()
    overdue = ServiceHealth.objects.overdue(now).values_list("pk", flat=True)
    return sum(ServiceHealth.mark_unknown_if_overdue(pk, now) for pk in list(overdue))


@shared_task(name="services.roll_up_availability")
@timed_sweep("services.roll_up_availability")
def roll_up_availability() -> int:
    """Today's uptime so far; yesterday's too while it may still be short of its last minutes."""
    now = timezone.now()
    written = DailyAvailability.roll_up(now.date(), now)
    if now.hour < 2:
        written += DailyAvailability.roll_up(now.date() - timedelta(days=1), now)
    return written


@shared_task(name="services.prune_history")
def prune_history() -> int:
    """Drop events past the retention and availability rows past the status page's 90 days."""
    now = timezone.now()
    return ServiceEvent.objects.prune(now) + DailyAvailability.prune(now)
