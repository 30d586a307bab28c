"""The hub's runner: claim the checks that are due, run them in threads, store what they found.

Claiming moves a check's `next_run_at` forward with a conditional UPDATE (only if it
still holds the value read), so two schedulers (two workers, or a beat tick that
overlaps the last one) never run one check twice. Runners do network I/O only and run
in a pool of CHECK_CONCURRENCY threads; results are stored from the calling thread as
each finishes, so no slow check holds back the others' results and the database sees
one connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from checks import runners
from checks.models import Check, CheckResult, Outcome

log = logging.getLogger("statusdash.checks")

# At most this many checks are claimed per tick; the rest wait for the next (a few seconds).
CLAIM_BATCH = 500


def next_run(check: Check, now: datetime) -> datetime:
    """On the check's own beat (no drift), but never in the past after an outage."""
    step = timedelta(seconds=check.interval)
    planned = check.next_run_at + step
    return planned if planned > now else now + step


def claim(check: Check, now: datetime) -> bool:
    """Take this run of `check`; False when another scheduler took it first."""
    # Conditional on the value read: of two schedulers that read the same next_run_at,
    # one UPDATE matches the row and the other matches nothing.
    return bool(
        Check.objects.filter(pk=check.pk, enabled=True, next_run_at=check.next_run_at).update(
            next_run_at=next_run(check, now)
        )
    )


def claim_due(now: datetime | None = None, limit: int = CLAIM_BATCH) -> list[Check]:
    now = now or timezone.now()
    due = Check.objects.due(now).order_by("next_run_at")[:limit]
    return [check for check in due if claim(check, now)]


def run_checks(checks: list[Check], run: Callable[[Check], Outcome] = runners.run) -> list[CheckResult]:
    """Run `checks` at once, CHECK_CONCURRENCY at a time, recording each result as it comes."""
    if not checks:
        return []
    results = []
    with ThreadPoolExecutor(max_workers=min(settings.CHECK_CONCURRENCY, len(checks))) as pool:
        futures = {pool.submit(run, check): check for check in checks}
        for future in as_completed(futures):
            check = futures[future]
            try:
                results.append(check.record(future.result()))
            except Exception:
                # One check's bad row must not cost the others their results.
                log.exception("could not record a check result", extra={"check": check.name})
    return results


def run_due(now: datetime | None = None) -> int:
    """Claim and run every due check once. Returns how many ran."""
    return len(run_checks(claim_due(now)))
