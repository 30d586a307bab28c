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
# a receiver's writes (alert rows) share that transaction. kwargs: host, samples, facts
# (what the report's own statement read for the apps that asked, see report_facts below).
samples_stored = Signal()

# SQL expressions an app above asked to have read about the reporting host in the report's
# first statement (its host UPDATE's RETURNING), by name: a receiver of samples_stored finds
# each answer in `facts[name]`, read by the statement that updates (and locks) the host's row,
# as of that statement's snapshot, without a round trip of its own. An expression may refer to
# the host's row as "hosts_host".
report_facts: dict[str, str] = {}


def ask_with_each_report(name: str, sql: str) -> None:
    """Have `sql` (a boolean or scalar SQL expression over the host's row) read with every report."""
    report_facts[name] = sql


# An agent's report carried check results, inside the ingest transaction. kwargs: host,
# results (dicts of metrics.schemas.CheckResultIn). metrics stores no check results itself
# (checks sits above it): the checks app's receiver does, and returns a CheckResultCounts.
check_results_reported = Signal()
