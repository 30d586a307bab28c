"""The audit trail's beat sweep: thin, around a model function that is safe to run twice at once."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from audit.models import prune
from statusdash.lib.observability import timed_sweep

log = logging.getLogger("statusdash.audit")


@shared_task
@timed_sweep("audit.prune")
def prune_audit_trail() -> int:
    """Hourly: audit events older than AUDIT_RETENTION_DAYS."""
    deleted = prune(timezone.now())
    if deleted:
        log.info("audit trail pruned", extra={"events": deleted})
    return deleted
