"""The overall health answer (`GET /api/hosts/sentiment/overall`), served from the cache.

The rule, applied to the services that have sent a health event and the enabled hosts:

    any service unhealthy, or every host offline (at least one host)  -> unhealthy
    otherwise any service unknown, or any host stale or offline        -> degraded
    otherwise (including nothing monitored yet)                        -> healthy

The cache holds one entry per service (kept current by each change, after its
transaction commits) and the list of their names, and a snapshot of the enabled
hosts' last_seen (see cached_last_seen). A miss rebuilds from the ServiceHealth
and Host rows, so a read never touches the events or samples.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from hosts.models import Host, HostStatus
from services.models import ServiceHealth, ServiceOverride, ServiceStatus
from services.service_cache import (
    OVERRIDES_KEY,
    SERVICE_NAMES_KEY,
    SERVICE_NAMES_SECONDS,
    remember_service,
    service_key,
)

log = logging.getLogger(__name__)

HOSTS_KEY = "sentiment:hosts"


class Sentiment:
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


def overall_status(service_statuses: Iterable[str], host_counts: dict[str, int]) -> str:
    """The rule in the module docstring; docs/events.md shows it as a table."""
    statuses = set(service_statuses)
    hosts_total = sum(host_counts.values())
    all_hosts_offline = hosts_total > 0 and host_counts.get(HostStatus.OFFLINE, 0) == hosts_total
    if ServiceStatus.UNHEALTHY in statuses or all_hosts_offline:
        return Sentiment.UNHEALTHY
    if (
        ServiceStatus.UNKNOWN in statuses
        or host_counts.get(HostStatus.STALE, 0)
        or host_counts.get(HostStatus.OFFLINE, 0)
    ):
        return Sentiment.DEGRADED
    return Sentiment.HEALTHY


# More components counted as services, added by apps above this one in their AppConfig.ready()
# (checks: every check that has run). Each returns entries shaped like ServiceHealth.cache_entry().
SOURCES: list[Callable[[], list[dict[str, Any]]]] = []


def add_source(source: Callable[[], list[dict[str, Any]]]) -> None:
    if source not in SOURCES:
        SOURCES.append(source)


def overall(host_counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The overall answer (docs/events.md, "The overall sentiment"): status, services, hosts per status."""
    services = with_overrides(service_entries())
    for source in SOURCES:
        services.extend(source())
    services.sort(key=lambda entry: entry["name"])
    counts = cached_host_counts() if host_counts is None else host_counts
    return {
        "status": overall_status((s["status"] for s in services), counts),
        "services": [public_shape(s) for s in services],
        "hosts": counts,
    }


# --- services ---------------------------------------------------------------


def public_shape(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the API shows it: the documented fields only (docs/events.md)."""
    return {k: v for k, v in entry.items() if k in ("name", "status", "lastCheck", "metrics", "error")}


def service_entries() -> list[dict[str, Any]]:
    """Every tracked service's cached state, by name."""
    try:
        names = cache.get(SERVICE_NAMES_KEY)
        if names is None:
            names = list(ServiceHealth.objects.tracked().values_list("name", flat=True))
            # Expires so that a list rebuilt just before a newcomer's commit cannot hide it for long.
            cache.set(SERVICE_NAMES_KEY, names, timeout=SERVICE_NAMES_SECONDS)
        found = cache.get_many([service_key(n) for n in names])
    except Exception:
        log.warning("sentiment cache unavailable, reading the database", exc_info=True)
        return [s.cache_entry() for s in ServiceHealth.objects.tracked()]
    entries = {n: found[service_key(n)] for n in names if service_key(n) in found}
    missing = [n for n in names if n not in entries]
    if missing:
        for service in ServiceHealth.objects.filter(name__in=missing):
            entries[service.name] = service.cache_entry()
            remember_service(entries[service.name])
    return [entries[n] for n in sorted(entries)]


def cached_overrides() -> dict[str, tuple[str, datetime | None]]:
    try:
        overrides = cache.get(OVERRIDES_KEY)
    except Exception:
        log.warning("sentiment cache unavailable, reading the database", exc_info=True)
        overrides = None
    if overrides is None:
        rows = ServiceOverride.objects.in_force().values_list("service__name", "status", "until")
        overrides = {name: (status, until) for name, status, until in rows}
        try:
            cache.set(OVERRIDES_KEY, overrides, timeout=None)
        except Exception:
            log.warning("sentiment cache unavailable", exc_info=True)
    return overrides


def with_overrides(entries: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """Services as the sentiment counts them: an admin's override in force replaces the status its events gave."""
    overrides = cached_overrides()
    if not overrides:
        return entries
    now = now or timezone.now()
    shown = []
    for entry in entries:
        override = overrides.get(entry["name"])
        # `until` is checked here, at read time: an override ends on time without a sweep.
        if override is not None and (override[1] is None or override[1] > now):
            entry = {**entry, "status": override[0]}
            entry.pop("error", None)
        shown.append(entry)
    return shown


# --- hosts ------------------------------------------------------------------


def host_status(last_seen: datetime | None, now: datetime) -> str:
    return Host(last_seen=last_seen).status(now)


def cached_last_seen() -> dict[int, datetime | None]:
    """last_seen of every enabled host: one snapshot in the cache, kept REPORT_INTERVAL seconds.

    Reports update last_seen with a bulk UPDATE (the ingest hot path sends no signals),
    so the snapshot expires instead; host statuses change in steps of REPORT_INTERVAL
    anyway. Admin edits (enabling, adding, deleting a host) drop it at once.
    """
    try:
        snapshot = cache.get(HOSTS_KEY)
    except Exception:
        log.warning("sentiment cache unavailable, reading the database", exc_info=True)
        snapshot = None
    if snapshot is None:
        snapshot = dict(Host.objects.enabled().values_list("id", "last_seen"))
        try:
            cache.set(HOSTS_KEY, snapshot, timeout=settings.REPORT_INTERVAL)
        except Exception:
            log.warning("sentiment cache unavailable", exc_info=True)
    return snapshot


def cached_host_counts(now: datetime | None = None) -> dict[str, int]:
    """Enabled hosts per status, computed at read time from the cached last_seen values."""
    now = now or timezone.now()
    return HostStatus.tally(host_status(last_seen, now) for last_seen in cached_last_seen().values())


def forget_hosts(**kwargs: Any) -> None:
    def forget() -> None:
        try:
            cache.delete(HOSTS_KEY)
        except Exception:
            log.warning("sentiment cache unavailable", exc_info=True)

    transaction.on_commit(forget)
