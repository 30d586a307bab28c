"""GET /metrics: every process's counters (statusdash/lib/observability.py) and each host's
latest values, in the Prometheus text format.

Host values are read at scrape time from the latest-metrics cache, never from the samples table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from ipaddress import ip_address

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from hosts.identity import IdentityRefused, originating_address, presented_api_key, require_key
from hosts.models import ApiKeyScope, Host, HostStatus
from metrics.latest import latest_for

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


class HostCollector(Collector):
    """Each enabled host's status and latest reported values, labelled `host`."""

    def collect(self) -> Iterator[Metric]:
        hosts = list(Host.objects.enabled().order_by("name"))
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
            for name in HostStatus.values:
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


# Apps above metrics (checks) add their own scrape-time collectors from AppConfig.ready().
_collectors: list[Callable[[], Collector]] = []


def add_collector(factory: Callable[[], Collector]) -> None:
    if factory not in _collectors:
        _collectors.append(factory)


def exposition() -> bytes:
    """Everything /metrics serves: every process's counters, then the hosts, then registered collectors."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(settings.PROMETHEUS_MULTIPROC_DIR))
    registry.register(HostCollector())
    for factory in _collectors:
        registry.register(factory())
    return generate_latest(registry)


def _allowed_address(address: str) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:  # not an IP address (a unix socket): only a key will do
        return False
    return any(ip in network for network in settings.METRICS_ALLOWED_IPS)


def _scraper_allowed(request: HttpRequest) -> JsonResponse | None:
    """None when the request may read /metrics, else the refusal."""
    if _allowed_address(originating_address(request)):
        return None
    raw = presented_api_key(request)
    if not raw:
        return JsonResponse(
            {"detail": "a read API key is required (Authorization: Bearer sd_..., or X-API-Key)"}, status=401
        )
    try:
        require_key(raw, ApiKeyScope.READ)
    except IdentityRefused as refused:
        return JsonResponse({"detail": refused.reason}, status=refused.status)
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
