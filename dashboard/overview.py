"""Hosts as the API and the dashboard show them: status, latest metrics, firing alerts.

A fixed number of queries whatever the number of hosts: one for hosts, one for
alert counts, and the latest metrics from the cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count
from django.utils import timezone

from alerts.models import Alert
from hosts.models import Host, HostStatus, certificate_days_left_if_expiring, status_at
from metrics.latest import latest_for
from services import sentiment


def firing_counts(host_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Firing alerts per host, of the given hosts or (None) of every host.

    Every host's is the cheaper query for a large fleet: firing alerts are few, while a filter
    naming 2,000 ids costs more to build and to run than the rows it saves.
    """
    alerts = Alert.objects.firing()
    if host_ids is not None:
        alerts = alerts.filter(host_id__in=list(host_ids))
    rows = alerts.values("host_id").annotate(n=Count("id"))
    return {row["host_id"]: row["n"] for row in rows}


def describe(host: Host, latest: dict[str, Any] | None, active_alerts: int, now: datetime) -> dict[str, Any]:
    return {
        "id": host.pk,
        "name": host.name,
        "display_name": host.display_name,
        "description": host.description,
        "tags": host.tags,
        "enabled": host.enabled,
        "status": host.status(now),
        "first_seen": host.first_seen,
        "last_seen": host.last_seen,
        "system": {
            "os": host.os,
            "kernel": host.kernel,
            "arch": host.arch,
            "cpu_count": host.cpu_count,
            "agent_version": host.agent_version,
            "boot_time": host.boot_time,
            "hostname": host.reported_hostname,
        },
        "latest": latest or None,
        "active_alerts": active_alerts,
    }


def describe_hosts(hosts: list[Host], alerts: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """`alerts`: firing_counts() when the caller has them already (saves a query)."""
    now = timezone.now()
    ids = [h.pk for h in hosts]
    latest = latest_for(ids)
    alerts = firing_counts(ids) if alerts is None else alerts
    expiring = certificate_days_left_if_expiring(hosts, now)
    return [
        {**describe(h, latest.get(h.pk), alerts.get(h.pk, 0), now), "certificate_days_left": expiring.get(h.pk)}
        for h in hosts
    ]


# Sorts that read each host's latest metrics; the others need only what the host rows hold.
METRIC_SORTS = frozenset({"cpu", "memory", "disk", "load", "network"})
# The columns outline_hosts reads, as values: building 2,000 models was a third of the overview.
OUTLINE_FIELDS = ("id", "name", "display_name", "tags", "enabled", "last_seen")


def outline_hosts(rows: list[dict[str, Any]], alerts: dict[int, int]) -> list[dict[str, Any]]:
    """Every host as filtering, sorting and grouping read it, from `Host.objects.values(*OUTLINE_FIELDS)`.

    A page describes only its own hosts in full (describe_hosts: metrics, certificates); the
    rest of a 2,000-host fleet costs only this. "latest" is None until with_latest().
    """
    now = timezone.now()
    return [
        {**row, "status": status_at(row["last_seen"], now), "latest": None, "active_alerts": alerts.get(row["id"], 0)}
        for row in rows
    ]


def with_latest(outlined: list[dict[str, Any]]) -> None:
    """Fill in every outlined host's latest metrics (from the cache), for sorting by them."""
    latest = latest_for(host["id"] for host in outlined)
    for host in outlined:
        host["latest"] = latest.get(host["id"])


def status_counts(hosts: list[Host]) -> dict[str, int]:
    now = timezone.now()
    return HostStatus.tally(host.status(now) for host in hosts)


def overall_sentiment(hosts: list[Host] | None = None, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The overall health answer: services and hosts, by the rule in services/sentiment.py.

    Pass the enabled hosts, or their counts per status, when already at hand; without either
    the host counts come from the cache.
    """
    return sentiment.overall(status_counts(hosts) if hosts is not None else counts)


# Each sort's natural order puts what needs a look first: busiest first for metrics, the
# longest silent first for last seen, problems first for status, most alerts first.
# A leading "-" reverses it. Hosts without the sorted value (no metrics, never seen) go last either way.
SORTS = {
    "name": "name",
    "status": "status",
    "cpu": "CPU",
    "memory": "memory",
    "disk": "worst disk",
    "load": "load",
    "network": "network",
    "last_seen": "last seen",
    "alerts": "firing alerts",
}
_STATUS_ORDER = {"offline": 0, "stale": 1, "online": 2}


def _sort_value(host: dict[str, Any], sort: str) -> Any:
    """The value a sort orders by, smallest first in the natural order; None when the host has none."""
    latest = host["latest"] or {}
    if sort == "status":
        return _STATUS_ORDER.get(host["status"], 3)
    if sort == "last_seen":
        return host["last_seen"]
    if sort == "alerts":
        return -host["active_alerts"]
    if sort == "load":
        return -latest["load"][0] if latest.get("load") else None
    if sort == "network":
        return -(latest["net_rx_bps"] + latest["net_tx_bps"]) if latest.get("net_rx_bps") is not None else None
    if sort in ("cpu", "memory", "disk"):
        value = latest.get(f"{sort}_percent")
        return -value if value is not None else None
    return None


def filter_hosts(
    described: list[dict[str, Any]], *, status: str = "", tag: str = "", search: str = ""
) -> list[dict[str, Any]]:
    """Hosts matching every given criterion; search matches name or display name, any case."""
    needle = search.strip().lower()
    return [
        h
        for h in described
        if (not status or h["status"] == status)
        and (not tag or tag in h["tags"])
        and (not needle or needle in h["name"].lower() or needle in h["display_name"].lower())
    ]


def sort_hosts(described: list[dict[str, Any]], sort: str = "name") -> list[dict[str, Any]]:
    """Sorted copy by one of SORTS, "-" first to reverse; ties and hosts without the value by name."""
    reverse = sort.startswith("-")
    key = sort.lstrip("-")
    by_name = sorted(described, key=lambda h: ((h["display_name"] or h["name"]).lower(), h["name"]))
    if key not in SORTS or key == "name":
        return by_name[::-1] if reverse else by_name
    with_value = [(v, h) for h in by_name if (v := _sort_value(h, key)) is not None]
    without = [h for h in by_name if _sort_value(h, key) is None]
    # sorted() is stable: equal values keep the name order in both directions.
    ordered = sorted(with_value, key=lambda pair: pair[0], reverse=reverse)
    return [h for _, h in ordered] + without


def all_tags(tag_lists: Iterable[list[str]]) -> list[str]:
    return sorted({tag for tags in tag_lists for tag in tags})


def current_statuses(now: datetime | None = None) -> dict[int, str]:
    """Every host's status, from one narrow query: what the live status watch compares."""
    now = now or timezone.now()
    return {host.pk: host.status(now) for host in Host.objects.only("id", "last_seen")}
