"""What a host card shows, shared by the overview page and the live push."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from dashboard.templatetags.dashboard import ago, duration, rate
from hosts import agent_dist
from hosts.models import version_older

# A gauge turns amber this many points below its threshold, red at the threshold.
WARN_MARGIN = 10


def thresholds() -> dict[str, int]:
    return {"cpu": settings.CPU_THRESHOLD, "memory": settings.MEMORY_THRESHOLD, "disk": settings.DISK_THRESHOLD}


def level(percent: float, threshold: float) -> str:
    if percent >= threshold:
        return "bad"
    if percent >= threshold - WARN_MARGIN:
        return "warn"
    return "ok"


def gauges(described: dict[str, Any], limits: dict[str, int]) -> list[dict[str, Any]]:
    """The card's small bars: CPU, memory, fullest disk and load (per core, against the CPU threshold)."""
    latest = described["latest"]
    if not latest:
        return []
    cores = described["system"]["cpu_count"] or 1
    load_1 = latest["load"][0]
    load_percent = load_1 / cores * 100
    rows = [
        ("cpu", "CPU", latest["cpu_percent"], f"{latest['cpu_percent']:.1f}%", ""),
        ("memory", "Memory", latest["memory_percent"], f"{latest['memory_percent']:.1f}%", ""),
        ("disk", "Disk", latest["disk_percent"], f"{latest['disk_percent']:.1f}%", latest.get("disk_mount") or ""),
        ("load", "Load", load_percent, f"{load_1:.2f}", f"{cores} core{'s' if cores != 1 else ''}"),
    ]
    return [
        {
            "css": f"gauge-row {key} level-{level(value, limits['cpu' if key == 'load' else key])}",
            "level": f"{key} level-{level(value, limits['cpu' if key == 'load' else key])}",
            "label": label,
            "width": round(max(0.0, min(100.0, value))),
            "text": text,
            "note": note,
        }
        for key, label, value, text, note in rows
    ]


def card(
    described: dict[str, Any], limits: dict[str, int], url_pattern: str, now: datetime, hub_agent: str = ""
) -> dict[str, Any]:
    """A described host plus its card's display strings.

    Formatted here rather than in the template: the overview renders up to hundreds
    of cards, and each template lookup and filter call costs more than this.
    """
    latest = described["latest"]
    last_seen = described["last_seen"]
    return {
        **described,
        "url": url_pattern.replace("~", described["name"]),
        "gauges": gauges(described, limits),
        "rx": rate(latest["net_rx_bps"]) if latest else "",
        "tx": rate(latest["net_tx_bps"]) if latest else "",
        "uptime": duration(latest["uptime_seconds"]) if latest else "",
        "seen_iso": last_seen.isoformat() if last_seen else "",
        "seen_ago": ago(last_seen, now),
        "hub_agent": hub_agent,
        "agent_behind": version_older(described["system"]["agent_version"], hub_agent),
    }


def cards(described: list[dict[str, Any]]) -> list[dict[str, Any]]:
    limits = thresholds()
    # Host names are [a-z0-9.-], safe in a path as they are: reverse once, not per card.
    url_pattern = reverse("host", args=["~"])
    now = timezone.now()
    hub_agent = agent_dist.agent_version()
    return [card(d, limits, url_pattern, now, hub_agent) for d in described]
