"""What a host card shows, shared by the overview page and the live push."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from hosts.models import Host
from hosts.overview import describe_hosts


def thresholds() -> dict[str, int]:
    return {"cpu": settings.CPU_THRESHOLD, "memory": settings.MEMORY_THRESHOLD, "disk": settings.DISK_THRESHOLD}


def host_card_context(host_id: int) -> dict[str, Any] | None:
    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        return None
    return {"host": describe_hosts([host])[0], "thresholds": thresholds()}
