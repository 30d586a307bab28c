"""Beat jobs for checks: run what is due, forget old results."""

from __future__ import annotations

import logging

from celery import shared_task

from checks import scheduler
from checks.models import CheckResult
from statusdash.lib.observability import timed_sweep

log = logging.getLogger("statusdash.checks")


@shared_task(name="checks.run_due")
@timed_sweep("checks.run_due")
def run_due() -> int:
    return scheduler.run_due()


@shared_task(name="checks.apply_retention")
@timed_sweep("checks.apply_retention")
def apply_retention() -> int:
    deleted = CheckResult.objects.prune()
    log.info("check results pruned", extra={"deleted": deleted})
    return deleted
