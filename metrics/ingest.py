"""The write path: a report's one transaction, in the request's own thread.

The view authenticates, validates, stores and evaluates the alert rules itself: no
hand-off to another thread, one transaction, no nested one. The samples
are announced with `samples_stored` inside the transaction, so the alert rows its
receivers write commit (or roll back) with them. On SQLite `write_transaction`'s
process lock queues writers so none meets "database is locked"; `INSERT … ON CONFLICT
DO NOTHING RETURNING` stores a resent report once.

Group commit (a writer thread storing whatever had queued in one transaction) was
measured against storing directly, `bench/ingest.py --agents 20 --seconds 15`, two
runs each, ingest/ceiling: SQLite 0.51 and 0.64 with it, 0.53 and 0.72 without;
PostgreSQL 0.42 and 0.33 with it, 0.61 and 0.49 without. It never paid, so it is
gone (docs/benchmarks.md, "Write path in one hop").

On PostgreSQL a report's commit does not wait for the disk unless INGEST_SYNCHRONOUS_COMMIT
is set (statusdash/lib/writelock.py says what that risks; docs/deploy.md, "Durability"), and
the host's UPDATE, the samples' INSERT and that setting are one statement
(`MetricSample.store_batch`): with BEGIN and COMMIT, three round trips for a report whose
host has no alert open and no rule crossed (alerts.evaluate reads no more then).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction

from hosts.models import Host
from hosts.signals import host_changed
from metrics import latest
from metrics.models import MetricSample
from metrics.signals import CheckResultCounts, check_results_reported, samples_stored
from statusdash.lib.writelock import write_transaction


class Ingested(NamedTuple):
    stored: list[MetricSample]
    duplicates: int
    # None when no report carried check results (or no app listens for them).
    checks: CheckResultCounts | None = None


def store_reports(host: Host, reports: list[dict[str, Any]]) -> tuple[list[MetricSample], int]:
    """Store validated reports for a host in one transaction; returns (samples stored, duplicates)."""
    ingested = ingest_reports(host, reports)
    return ingested.stored, ingested.duplicates


def ingest_reports(host: Host, reports: list[dict[str, Any]]) -> Ingested:
    """Store validated reports for a host in one transaction: the samples, and the check
    results they carry (stored by the checks app, which hears check_results_reported).

    Once it commits, the newest stored report goes to the latest-metrics cache and then
    dashboards are told, once: the host's own announcement and any an alert it fired
    makes are one push (dashboard/live.py), and the cache is written first because the
    push re-reads it. A batch caches and pushes its newest report only.
    """
    with write_transaction():
        batch = MetricSample.store_batch(host, reports, wait_for_disk=settings.INGEST_SYNCHRONOUS_COMMIT)
        if batch.samples:
            newest = max(batch.samples, key=lambda sample: sample.collected_at)
            # Registered before anything can queue a push: on-commit callbacks run in order.
            transaction.on_commit(lambda: latest.remember(newest))
            samples_stored.send(sender=MetricSample, host=host, samples=batch.samples, facts=batch.facts)
            host_changed.send(sender=MetricSample, host_id=host.pk)
        checks = report_check_results(host, reports)
    return Ingested(batch.samples, batch.duplicates, checks)


def report_check_results(host: Host, reports: list[dict[str, Any]]) -> CheckResultCounts | None:
    # Every report's results, the resent ones too: the receiver stores each (check, host,
    # ran_at) once, so a report whose samples were stored before costs nothing twice, and
    # one whose samples were stored by a hub that did not know checks yet still gets them in.
    results = [result for report in reports for result in report.get("checks") or ()]
    if not results:
        return None
    answers = check_results_reported.send(sender=MetricSample, host=host, results=results)
    counts = [answer for _, answer in answers if isinstance(answer, CheckResultCounts)]
    if not counts:
        return None
    return CheckResultCounts(*(sum(column) for column in zip(*counts, strict=True)))
