"""Beat jobs for checks: run what is due, forget old results and rollups (rollups are built by
metrics' rollup job, checks/rollups.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from checks import scheduler
from checks.models import CheckResult, CheckRollup
from metrics.rollups import expire_rollups
from statusdash.lib.observability import timed_sweep

log = logging.getLogger("statusdash.checks")


@shared_task(name="checks.run_due")
@timed_sweep("checks.run_due")
def run_due() -> int:
    return scheduler.run_due()


@shared_task(name="checks.apply_retention")
@timed_sweep("checks.apply_retention")
def apply_retention() -> dict[str, int]:
    """Raw results past RAW_RETENTION_HOURS (once rolled up), rollups past their tier's keep."""
    now = timezone.now()
    deleted = {"results": CheckResult.objects.prune(now), **expire_rollups(CheckRollup.objects.all(), now)}
    log.info("check results pruned", extra=deleted)
    return deleted
