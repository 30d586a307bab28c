"""The hub's own metrics: GET /metrics in the Prometheus text format, and the hooks that feed it.

Daphne processes and Celery workers are separate processes (and, under docker
compose, separate containers), so counters use prometheus_client's multiprocess
mode: each process writes its values to small mmapped files in
PROMETHEUS_MULTIPROC_DIR and a scrape, served by any web process, sums them.
File names carry the container's host name, the pid and the process start time,
because pids repeat across containers and restarts. Each host's latest values
are read at scrape time from the latest-metrics cache, never from the samples table.

Hooks, each one call where the event happens:
  record_ingest()                    metrics/api.py, after a report is stored
  record_rejection()                 statusdash/lib/bodylimit.py and logged_api_view (4xx on ingest)
  CountedWebSocketMixin              consumers: `class X(CountedWebSocketMixin, AsyncWebsocketConsumer)`
  @timed_sweep("name")               Celery sweeps, under `@shared_task`
"""

from __future__ import annotations

import atexit
import functools
import glob
import inspect
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from ipaddress import ip_address
from typing import Any, TypeVar, cast

import psutil
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger("statusdash.request")
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


# Per-host values at scrape time: (metric suffix, help, key in the latest summary).
HOST_VALUES = [
    ("cpu_percent", "CPU use over the last report interval, percent.", "cpu_percent"),
    ("memory_percent", "Memory in use, percent.", "memory_percent"),
    ("memory_used_bytes", "Memory in use.", "memory_used"),
    ("memory_total_bytes", "Installed memory.", "memory_total"),
    ("swap_percent", "Swap in use, percent.", "swap_percent"),
    ("disk_percent", "Use of the fullest mounted filesystem, percent.", "disk_percent"),
    ("network_receive_bytes_per_second", "Network receive rate, all interfaces.", "net_rx_bps"),
    ("network_transmit_bytes_per_second", "Network transmit rate, all interfaces.", "net_tx_bps"),
    ("disk_read_bytes_per_second", "Disk read rate, all devices.", "disk_read_bps"),
    ("disk_write_bytes_per_second", "Disk write rate, all devices.", "disk_write_bps"),
    ("processes", "Running processes.", "process_count"),
    ("uptime_seconds", "Time since the host booted.", "uptime_seconds"),
]
HOST_STATUSES = ("online", "stale", "offline")


class HostCollector(Collector):
    """Each enabled host's status and latest reported values, labelled `host`."""

    def collect(self) -> Iterator[Metric]:
        from hosts.models import Host
        from metrics.latest import latest_for

        hosts = list(Host.objects.filter(enabled=True).order_by("name"))
        latest = latest_for(h.pk for h in hosts)
        status = GaugeMetricFamily(
            "statusdash_host_status", "1 for the host's current status, 0 for the others.", labels=["host", "status"]
        )
        last_seen = GaugeMetricFamily(
            "statusdash_host_last_seen_timestamp_seconds", "When the host last reported (Unix time).", labels=["host"]
        )
        load = GaugeMetricFamily("statusdash_host_load", "Load average, by period.", labels=["host", "period"])
        families = {
            suffix: GaugeMetricFamily(f"statusdash_host_{suffix}", text, labels=["host"])
            for suffix, text, _ in HOST_VALUES
        }
        for host in hosts:
            current = host.status()
            for name in HOST_STATUSES:
                status.add_metric([host.name, name], 1.0 if current == name else 0.0)
            if host.last_seen is not None:
                last_seen.add_metric([host.name], host.last_seen.timestamp())
            summary = latest.get(host.pk, {})
            for suffix, _, key in HOST_VALUES:
                if summary.get(key) is not None:
                    families[suffix].add_metric([host.name], float(summary[key]))
            for period, value in zip(("1m", "5m", "15m"), summary.get("load") or [], strict=False):
                if value is not None:
                    load.add_metric([host.name, period], float(value))
        yield status
        yield last_seen
        yield load
        yield from families.values()


def exposition() -> bytes:
    """Everything /metrics serves: every process's counters, then the hosts."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(settings.PROMETHEUS_MULTIPROC_DIR))
    registry.register(HostCollector())
    return generate_latest(registry)


def scraper_address(request: HttpRequest) -> str:
    """The scraper's address; behind a trusted proxy, the address the proxy saw (the last
    X-Forwarded-For entry, which nginx's $proxy_add_x_forwarded_for appends)."""
    from hosts.identity import client_address, from_trusted_proxy

    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    if forwarded and from_trusted_proxy(request):
        return forwarded[-1]
    return client_address(request)


def _allowed_address(address: str) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:  # not an IP address (a unix socket): only a key will do
        return False
    return any(ip in network for network in settings.METRICS_ALLOWED_IPS)


def _scraper_allowed(request: HttpRequest) -> JsonResponse | None:
    """None when the request may read /metrics, else the refusal."""
    from ninja.errors import HttpError

    from hosts.identity import presented_api_key
    from statusdash.auth import reader_from_key

    if _allowed_address(scraper_address(request)):
        return None
    raw = presented_api_key(request)
    if not raw:
        return JsonResponse(
            {"detail": "a read API key is required (Authorization: Bearer sd_..., or X-API-Key)"}, status=401
        )
    try:
        key = reader_from_key(raw)
    except HttpError as error:
        return JsonResponse({"detail": error.message}, status=error.status_code)
    if key is None:
        return JsonResponse({"detail": "unknown API key"}, status=401)
    return None


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics for Prometheus: a read API key, or an address in METRICS_ALLOWED_IPS."""
    refusal = _scraper_allowed(request)
    if refusal is not None:
        return refusal
    # Our names are plain ASCII, so the text is the same in both versions; 0.0.4 is the
    # one every Prometheus release (2.x included) and other scrapers understand.
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _identity(request: HttpRequest) -> str:
    """Who made the request, for the log: never a secret, only names and key prefixes."""
    from django.contrib.auth.models import AbstractBaseUser

    from hosts.identity import AgentIdentity
    from hosts.models import ApiKey

    who = getattr(request, "auth", None)
    if isinstance(who, AgentIdentity):
        return f"host:{who.host.name}"
    if isinstance(who, ApiKey):
        return f"key:{who.prefix}"
    if isinstance(who, AbstractBaseUser):
        return f"user:{who.get_username()}"
    return "-"


def logged_api_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """One key=value line per API request (method, path, status, ms, identity), and the
    count of refused ingest requests. Wraps the API's views instead of adding a middleware,
    which under ASGI would cost every request a thread hop."""

    def finished(request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        record_rejection(request.path, response.status_code)
        log.info(
            "api request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "identity": _identity(request),
            },
        )
        return response

    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def logged_async(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            started = time.perf_counter()
            return finished(request, await view(request, *args, **kwargs), started)

        return logged_async

    @functools.wraps(view)
    def logged(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        started = time.perf_counter()
        return finished(request, view(request, *args, **kwargs), started)

    return logged
