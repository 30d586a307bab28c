"""Storing reports from many agents at once: group commit on one writer thread.

Under Daphne every request runs in a thread of its own, each opening its own
database connection and, on SQLite, queueing for the single write lock. The web
process instead hands validated reports to one writer thread that keeps one
connection and stores whatever has queued up in a single transaction, so the
cost of a commit is shared by every report that arrived meanwhile. A request
still answers only after its reports are committed.

Inside a transaction the caller already opened (tests, management commands)
reports are stored directly, so they see and roll back with that transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from alerts.evaluate import evaluate_samples
from hosts.models import Host
from metrics.models import MetricSample
from statusdash.lib.writelock import write_transaction

log = logging.getLogger(__name__)
MAX_SUBMISSIONS_PER_COMMIT = 128


@dataclass
class Submission:
    host: Host
    reports: list[dict[str, Any]]
    result: Future[tuple[list[MetricSample], int]] = field(default_factory=Future)


class GroupCommitWriter:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Submission] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, host: Host, reports: list[dict[str, Any]]) -> tuple[list[MetricSample], int]:
        self._ensure_thread()
        submission = Submission(host, reports)
        self._queue.put(submission)
        return submission.result.result()

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_SUBMISSIONS_PER_COMMIT:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[Submission]) -> None:
        outcomes: list[tuple[Submission, Any]] = []
        try:
            with write_transaction():
                for submission in batch:
                    try:
                        # A savepoint each: one host deleted meanwhile fails only its own request.
                        with transaction.atomic():
                            outcomes.append((submission, store_and_evaluate(submission.host, submission.reports)))
                    except Exception as error:
                        outcomes.append((submission, error))
        except Exception as error:  # the commit itself failed (disk full, database gone)
            log.warning("ingest commit failed", extra={"reports": len(batch), "error": str(error)})
            connection.close()  # start the next batch on a fresh connection
            for submission in batch:
                submission.result.set_exception(error)
            return
        for submission, outcome in outcomes:
            if isinstance(outcome, Exception):
                submission.result.set_exception(outcome)
            else:
                submission.result.set_result(outcome)


_writer = GroupCommitWriter()


def store_and_evaluate(host: Host, reports: list[dict[str, Any]]) -> tuple[list[MetricSample], int]:
    """Store reports and evaluate the threshold rules against them, in one transaction."""
    stored, duplicates = MetricSample.store_reports(host, reports)
    try:
        with transaction.atomic():
            evaluate_samples(host, stored)
    except Exception:  # a broken rule must not cost the data: keep the samples, log the rule error
        log.exception("alert evaluation failed", extra={"host": host.name})
    return stored, duplicates


def store_reports(host: Host, reports: list[dict[str, Any]]) -> tuple[list[MetricSample], int]:
    """Store validated reports for a host and evaluate alert rules; returns (samples stored, duplicates).

    Evaluation runs with the write so that the alert rows it writes share the commit
    (and, on SQLite, the single writer) instead of contending for the lock.
    """
    if settings.INGEST_GROUP_COMMIT and not connection.in_atomic_block:
        return _writer.submit(host, reports)
    with transaction.atomic():
        return store_and_evaluate(host, reports)
