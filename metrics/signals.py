"""What the metrics app announces. Receivers are connected in their app's `ready()`."""

from __future__ import annotations

from typing import NamedTuple

from django.dispatch import Signal


class CheckResultCounts(NamedTuple):
    """What became of a report's check results (a receiver of check_results_reported returns one)."""

    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0


# New samples were stored for a host, inside the ingest transaction (not after it):
# a receiver's writes (alert rows) share that transaction. kwargs: host, samples.
samples_stored = Signal()

# An agent's report carried check results, inside the ingest transaction. kwargs: host,
# results (dicts of metrics.schemas.CheckResultIn). metrics stores no check results itself
# (checks sits above it): the checks app's receiver does, and returns a CheckResultCounts.
check_results_reported = Signal()
