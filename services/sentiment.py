"""The overall health answer (`GET /api/hosts/sentiment/overall`), served from the cache.

The rule, applied to the services that have sent a health event and the enabled hosts:

    any service unhealthy, or every host offline (at least one host)  -> unhealthy
    otherwise any service unknown, or any host stale or offline        -> degraded
    otherwise (including nothing monitored yet)                        -> healthy

The cache holds one entry per service (kept current by each change, after its
transaction commits), the last_seen of each enabled host (kept current by a
signal on Host saves), and the two lists of names and ids. A miss rebuilds from
the database with indexed lookups, so a read never scans the events or samples.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from hosts.models import Host, HostStatus
from services.models import ServiceHealth, ServiceStatus

log = logging.getLogger(__name__)

SERVICE_NAMES_KEY = "sentiment:service-names"
HOST_IDS_KEY = "sentiment:host-ids"
NEVER_SEEN = ""  # cached last_seen of a host that never reported (None would read as a miss)


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


def overall(host_counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The design's response: status, services, plus a count of hosts per status."""
    services = service_entries()
    counts = cached_host_counts() if host_counts is None else host_counts
    return {
        "status": overall_status((s["status"] for s in services), counts),
        "services": [public_shape(s) for s in services],
        "hosts": counts,
    }


# --- services ---------------------------------------------------------------


def _service_key(name: str) -> str:
    return f"sentiment:service:{name}"


def service_entry(service: ServiceHealth) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": service.name,
        "label": service.label,
        "status": service.status,
        "lastCheck": service.last_check,
        "version": service.version,
    }
    if service.metrics:
        entry["metrics"] = service.metrics
    if service.status == ServiceStatus.UNHEALTHY and service.last_error:
        entry["error"] = service.last_error
    return entry


def public_shape(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the API shows it: the design's fields only."""
    return {k: v for k, v in entry.items() if k in ("name", "status", "lastCheck", "metrics", "error")}


def remember_service(entry: dict[str, Any]) -> None:
    """Store a service's new state (called after its transaction commits)."""
    try:
        names = cache.get(SERVICE_NAMES_KEY)
        if names is not None and entry["name"] not in names:
            # A newcomer: drop the list rather than edit it, so two newcomers at once cannot lose one.
            cache.delete(SERVICE_NAMES_KEY)
        current = cache.get(_service_key(entry["name"]))
        # Two commits for one service may finish in either order; keep the newer state.
        if current is None or current["version"] <= entry["version"]:
            cache.set(_service_key(entry["name"]), entry, timeout=None)
    except Exception:  # the cache is an accelerator; the next miss rebuilds from the database
        log.warning("sentiment cache unavailable", exc_info=True)


def forget_services() -> None:
    """After an admin edit or delete: the next read rebuilds from the database."""
    try:
        names = cache.get(SERVICE_NAMES_KEY) or []
        cache.delete_many([SERVICE_NAMES_KEY, *(_service_key(n) for n in names)])
    except Exception:
        log.warning("sentiment cache unavailable", exc_info=True)


def service_entries() -> list[dict[str, Any]]:
    """Every tracked service's cached state, by name."""
    try:
        names = cache.get(SERVICE_NAMES_KEY)
        if names is None:
            names = list(ServiceHealth.objects.tracked().values_list("name", flat=True))
            cache.set(SERVICE_NAMES_KEY, names, timeout=None)
        found = cache.get_many([_service_key(n) for n in names])
    except Exception:
        log.warning("sentiment cache unavailable, reading the database", exc_info=True)
        return [service_entry(s) for s in ServiceHealth.objects.tracked()]
    entries = {n: found[_service_key(n)] for n in names if _service_key(n) in found}
    missing = [n for n in names if n not in entries]
    if missing:
        for service in ServiceHealth.objects.filter(name__in=missing):
            entries[service.name] = service_entry(service)
            remember_service(entries[service.name])
    return [entries[n] for n in sorted(entries)]


def status_by_name(names: Iterable[str]) -> dict[str, str]:
    wanted = set(names)
    return {e["name"]: e["status"] for e in service_entries() if e["name"] in wanted}


# --- hosts ------------------------------------------------------------------


def _host_key(host_id: int) -> str:
    return f"sentiment:host:{host_id}"


def host_status(last_seen: datetime | None, now: datetime) -> str:
    return Host(last_seen=last_seen).status(now)


def cached_last_seen() -> dict[int, datetime | None]:
    """last_seen of every enabled host, from the cache."""
    try:
        ids = cache.get(HOST_IDS_KEY)
        if ids is None:
            rows = dict(Host.objects.enabled().values_list("id", "last_seen"))
            cache.set_many({_host_key(i): seen or NEVER_SEEN for i, seen in rows.items()}, timeout=None)
            cache.set(HOST_IDS_KEY, list(rows), timeout=None)
            return rows
        found = cache.get_many([_host_key(i) for i in ids])
    except Exception:
        log.warning("sentiment cache unavailable, reading the database", exc_info=True)
        return dict(Host.objects.enabled().values_list("id", "last_seen"))
    seen = {i: found[_host_key(i)] or None for i in ids if _host_key(i) in found}
    missing = [i for i in ids if i not in seen]
    if missing:
        rows = dict(Host.objects.filter(pk__in=missing).values_list("id", "last_seen"))
        cache.set_many({_host_key(i): s or NEVER_SEEN for i, s in rows.items()}, timeout=None)
        seen.update(rows)
    return seen


def cached_host_counts(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {status.value: 0 for status in HostStatus}
    for last_seen in cached_last_seen().values():
        counts[host_status(last_seen, now)] += 1
    return counts


def _host_saved(sender: type[Host], instance: Host, created: bool, update_fields: Any, **kwargs: Any) -> None:
    membership_changed = created or update_fields is None or "enabled" in update_fields
    host_id, last_seen = instance.pk, instance.last_seen or NEVER_SEEN

    def remember() -> None:
        try:
            if membership_changed:
                cache.delete(HOST_IDS_KEY)  # the set of enabled hosts may have changed
            cache.set(_host_key(host_id), last_seen, timeout=None)
        except Exception:
            log.warning("sentiment cache unavailable", exc_info=True)

    transaction.on_commit(remember)


def _host_deleted(sender: type[Host], instance: Host, **kwargs: Any) -> None:
    try:
        cache.delete_many([HOST_IDS_KEY, _host_key(instance.pk)])
    except Exception:
        log.warning("sentiment cache unavailable", exc_info=True)


def connect_host_signals() -> None:
    post_save.connect(_host_saved, sender=Host, dispatch_uid="sentiment-host-saved")
    post_delete.connect(_host_deleted, sender=Host, dispatch_uid="sentiment-host-deleted")
