"""The hub's own counters, and the hooks that feed them (GET /metrics serves them: metrics/exposition.py).

Daphne processes and Celery workers are separate processes (and, under docker
compose, separate containers), so counters use prometheus_client's multiprocess
mode: each process writes its values to small mmapped files in
PROMETHEUS_MULTIPROC_DIR and a scrape, served by any web process, sums them.
File names carry the container's host name, the pid and the process start time,
because pids repeat across containers and restarts. Each host's latest values
are read at scrape time from the latest-metrics cache, never from the samples table.

Hooks, each one call where the event happens:
  record_ingest()                    metrics/api.py, after a report is stored
  record_rejection()                 statusdash/lib/bodylimit.py and statusdash/api.py (4xx on ingest)
  CountedWebSocketMixin              consumers: `class X(CountedWebSocketMixin, AsyncWebsocketConsumer)`
  @timed_sweep("name")               Celery sweeps, under `@shared_task`
"""

from __future__ import annotations

import atexit
import functools
import glob
import os
import re
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import psutil
from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client import values as prometheus_values
from prometheus_client.mmap_dict import MmapedDict

REPORT_PATH = "/api/metrics/report"
REJECTION_REASONS = {
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    413: "too_large",
    422: "invalid",
}
_MACHINE = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"
_identifiers: dict[int, str] = {}


def process_identifier() -> str:
    """`<host>-<pid>-<start>`: distinct across containers and pid reuse, and fork-aware
    (prometheus_client calls this on every update to notice a Celery prefork child)."""
    pid = os.getpid()
    if pid not in _identifiers:
        _identifiers[pid] = f"{_MACHINE}-{pid}-{int(psutil.Process(pid).create_time())}"
    return _identifiers[pid]


def prune_dead_processes(directory: str) -> list[str]:
    """Remove what processes on this machine that are gone left behind and no longer counts:
    their live gauges (open WebSockets of a killed process), and files holding only zeros
    (every short `manage.py` run that loaded the URLs). Counters with counts stay, as part
    of the totals. Returns the removed file names."""
    pattern = re.compile(rf"^(\w+?)_{re.escape(_MACHINE)}-(\d+)-(\d+)\.db$")
    removed = []
    for path in sorted(glob.glob(os.path.join(directory, "*.db"))):
        match = pattern.match(os.path.basename(path))
        if match is None or _running(int(match.group(2)), int(match.group(3))):
            continue
        if _remove_if_spent(path, match.group(1)):
            removed.append(os.path.basename(path))
    return removed


def _remove_if_spent(path: str, kind: str) -> bool:
    """Remove a finished process's file unless it holds counts that are part of the totals."""
    if kind.startswith("gauge_live") or all(
        value == 0 for _, value, _, _ in MmapedDict.read_all_values_from_file(path)
    ):
        os.remove(path)
        return True
    return False


def _leave(directory: str) -> None:
    """At a clean exit: take this process's open-socket gauge and unused files with it."""
    identifier = process_identifier()
    for path in glob.glob(os.path.join(directory, f"*_{identifier}.db")):
        _remove_if_spent(path, os.path.basename(path)[: -len(f"_{identifier}.db")])


def _running(pid: int, started: int) -> bool:
    try:
        return int(psutil.Process(pid).create_time()) == started
    except psutil.Error:
        return False


def _start_multiprocess_mode() -> None:
    directory = str(settings.PROMETHEUS_MULTIPROC_DIR)
    # prometheus_client reads the directory from the environment when it opens its files.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    prometheus_values.ValueClass = prometheus_values.MultiProcessValue(process_identifier)
    prune_dead_processes(directory)
    atexit.register(_leave, directory)  # a killed process is pruned by the next one to start here


_start_multiprocess_mode()

INGEST_REPORTS = Counter(
    "statusdash_ingest_reports",
    "Reports received from agents, by result (accepted: stored; duplicate: already stored).",
    ["result"],
    registry=None,
)
INGEST_DURATION = Histogram(
    "statusdash_ingest_request_duration_seconds",
    "Time to validate and store one accepted ingest request (a report or a batch).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=None,
)
INGEST_REJECTED = Counter(
    "statusdash_ingest_rejected_requests",
    "Ingest requests refused, by reason (unauthenticated, forbidden, invalid, malformed, too_large).",
    ["reason"],
    registry=None,
)
WEBSOCKET_CLIENTS = Gauge(
    "statusdash_websocket_clients",
    "Open WebSocket connections, by consumer.",
    ["consumer"],
    multiprocess_mode="livesum",
    registry=None,
)
SWEEP_DURATION = Histogram(
    "statusdash_sweep_duration_seconds",
    "Duration of periodic Celery sweeps, by task.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=None,
)
ALERT_EVALUATION_FAILURES = Counter(
    "statusdash_alert_evaluation_failures",
    "Reports whose alert rules could not be evaluated (the report is stored; the error is logged).",
    registry=None,
)
SWEEP_FAILURES = Counter(
    "statusdash_sweep_failures",
    "Periodic Celery sweeps that raised, by task.",
    ["task"],
    registry=None,
)
SWEEP_LAST_SUCCESS = Gauge(
    "statusdash_sweep_last_success_timestamp_seconds",
    "When each periodic sweep last finished without error (Unix time).",
    ["task"],
    multiprocess_mode="max",
    registry=None,
)


def record_ingest(accepted: int, duplicates: int, seconds: float) -> None:
    INGEST_REPORTS.labels("accepted").inc(accepted)
    INGEST_REPORTS.labels("duplicate").inc(duplicates)
    INGEST_DURATION.observe(seconds)


def record_alert_evaluation_failure() -> None:
    ALERT_EVALUATION_FAILURES.inc()


def record_rejection(path: str, status: int) -> None:
    """Count a refused ingest request; other paths and statuses are not rejections of reports."""
    if path == REPORT_PATH and 400 <= status < 500:
        INGEST_REJECTED.labels(REJECTION_REASONS.get(status, f"http_{status}")).inc()


class CountedWebSocketMixin:
    """Counts a consumer's open sockets in statusdash_websocket_clients.

    Only accepted sockets count: a connection refused in `connect` never was a client.
    """

    _counted = False

    async def accept(self, *args: Any, **kwargs: Any) -> None:
        await super().accept(*args, **kwargs)  # type: ignore[misc]
        if not self._counted:
            self._counted = True
            WEBSOCKET_CLIENTS.labels(type(self).__name__).inc()

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if self._counted:
            self._counted = False
            WEBSOCKET_CLIENTS.labels(type(self).__name__).dec()
        await super().websocket_disconnect(message)  # type: ignore[misc]


F = TypeVar("F", bound=Callable[..., Any])


def timed_sweep(task: str) -> Callable[[F], F]:
    """Time a periodic sweep; put it under the Celery decorator:

    @shared_task
    @timed_sweep("alerts.evaluate")
    def evaluate_alerts() -> None: ...
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = function(*args, **kwargs)
            except BaseException:
                SWEEP_FAILURES.labels(task).inc()
                raise
            finally:
                SWEEP_DURATION.labels(task).observe(time.perf_counter() - started)
            SWEEP_LAST_SUCCESS.labels(task).set(time.time())
            return result

        return cast(F, timed)

    return decorate
