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
from hosts.models import Host, HostStatus
from metrics.latest import latest_for
from services import sentiment


def firing_counts(host_ids: Iterable[int]) -> dict[int, int]:
    rows = Alert.objects.firing().filter(host_id__in=list(host_ids)).values("host_id").annotate(n=Count("id"))
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


def describe_hosts(hosts: list[Host]) -> list[dict[str, Any]]:
    now = timezone.now()
    ids = [h.pk for h in hosts]
    latest = latest_for(ids)
    alerts = firing_counts(ids)
    return [describe(h, latest.get(h.pk), alerts.get(h.pk, 0), now) for h in hosts]


def status_counts(hosts: list[Host]) -> dict[str, int]:
    now = timezone.now()
    counts = {status.value: 0 for status in HostStatus}
    for host in hosts:
        counts[host.status(now)] += 1
    return counts


def overall_sentiment(hosts: list[Host] | None = None) -> dict[str, Any]:
    """The design's overall health answer: services and hosts, by the rule in services/sentiment.py.

    Pass the enabled hosts when already loaded; without them the host counts come from the cache.
    """
    return sentiment.overall(status_counts(hosts) if hosts is not None else None)
