"""What the wall screen (`/wall/`) shows: the fleet's problems first, the healthy rest as a count.

A host is in exactly one section, the first that applies: offline, firing (it has firing
alerts), stale, healthy. Offline comes first even when the host also has alerts: a silent
host's alerts are about the past. Only enabled hosts are on the wall, as in the sentiment.

Two queries whatever the number of hosts: the hosts, and every firing alert (bounded by
the alerts that fire, not by the fleet). The sentiment's service part comes from its cache.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from alerts.models import SEVERITY_RANK, Alert
from dashboard.templatetags.dashboard import ago
from hosts.models import Host, HostStatus
from services import sentiment

OFFLINE, FIRING, STALE, HEALTHY = "offline", "firing", "stale", "healthy"
PROBLEM_SECTIONS = {OFFLINE: "Offline", FIRING: "Firing alerts", STALE: "Stale"}
# A screen read from across a room holds a few dozen rows; beyond this a section says
# "+N more" so a mass outage neither floods the page nor makes each push expensive.
ROWS_PER_SECTION = 60
# Healthy hosts are named in a compact strip up to this many, then only counted.
HEALTHY_NAMES_SHOWN = 48
ALERTS_PER_ROW = 3
# Only what the wall shows: a narrow read of a possibly large table.
_HOST_FIELDS = ("id", "name", "display_name", "last_seen", "enabled")
_ALERT_FIELDS = ("host_id", "rule", "subject", "severity")


def section_of(status: str, firing_alerts: int) -> str:
    if status == HostStatus.OFFLINE:
        return OFFLINE
    if firing_alerts:
        return FIRING
    if status == HostStatus.STALE:
        return STALE
    return HEALTHY


@dataclass
class WallAlert:
    rule: str
    subject: str
    severity: str

    @property
    def text(self) -> str:
        return f"{self.rule} {self.subject}".strip()


@dataclass
class WallHost:
    id: int
    name: str
    label: str
    status: str
    last_seen: datetime | None
    alerts: list[WallAlert] = field(default_factory=list)

    @property
    def section(self) -> str:
        return section_of(self.status, len(self.alerts))

    @property
    def worst_severity(self) -> str:
        return max((a.severity for a in self.alerts), key=lambda s: SEVERITY_RANK.get(s, 0), default="")

    def signature(self) -> tuple[Any, ...]:
        """What the wall shows of this host, apart from the time: a push that keeps it needs no redraw."""
        return (self.section, self.label, tuple(sorted((a.rule, a.subject, a.severity) for a in self.alerts)))


def _sort_key(host: WallHost) -> tuple[Any, ...]:
    by_name = (host.label.lower(), host.name)
    if host.section == OFFLINE:
        # The newest outage on top: it is the news; hosts never seen at all go last.
        seen = host.last_seen.timestamp() if host.last_seen else float("inf")
        return (host.last_seen is None, -seen if host.last_seen else 0, *by_name)
    if host.section == FIRING:
        return (-SEVERITY_RANK.get(host.worst_severity, 0), -len(host.alerts), *by_name)
    return by_name


def _alerts_by_host(alerts: list[Alert]) -> dict[int, list[WallAlert]]:
    by_host: dict[int, list[WallAlert]] = defaultdict(list)
    for alert in alerts:
        if alert.host_id is not None:
            by_host[alert.host_id].append(WallAlert(alert.rule, alert.subject, alert.severity))
    return by_host


def _wall_host(host: Host, alerts: list[WallAlert], now: datetime) -> WallHost:
    return WallHost(host.pk, host.name, host.label, host.status(now), host.last_seen, alerts)


def wall_hosts(now: datetime) -> tuple[list[WallHost], int]:
    """Every enabled host as the wall sees it, and the number of firing alerts (hosts, services, the hub)."""
    hosts = Host.objects.enabled().only(*_HOST_FIELDS)
    firing = list(Alert.objects.firing().only(*_ALERT_FIELDS))
    alerts = _alerts_by_host(firing)
    return [_wall_host(h, alerts.get(h.pk, []), now) for h in hosts], len(firing)


def signatures() -> dict[int, tuple[Any, ...]]:
    """Every host's signature (WallHost.signature): what a socket compares pushes with."""
    return {h.id: h.signature() for h in wall_hosts(timezone.now())[0]}


def host_signature(host_id: int) -> tuple[Any, ...] | None:
    """One host's signature (WallHost.signature), or None when it is not on the wall (gone or disabled)."""
    host = Host.objects.enabled().only(*_HOST_FIELDS).filter(pk=host_id).first()
    if host is None:
        return None
    alerts = _alerts_by_host(list(Alert.objects.firing().filter(host_id=host_id).only(*_ALERT_FIELDS)))
    return _wall_host(host, alerts.get(host_id, []), timezone.now()).signature()


def _row(host: WallHost, now: datetime) -> dict[str, Any]:
    return {
        "id": host.id,
        "name": host.name,
        "label": host.label,
        "status": host.status,
        "section": host.section,
        "severity": host.worst_severity,
        "alerts": [a.text for a in host.alerts[:ALERTS_PER_ROW]],
        "more_alerts": max(0, len(host.alerts) - ALERTS_PER_ROW),
        "seen_iso": host.last_seen.isoformat() if host.last_seen else "",
        "seen_ago": ago(host.last_seen, now),
    }


def board(now: datetime | None = None) -> dict[str, Any]:
    """The wall's context: sentiment, counts, the problem sections in order, the healthy strip,
    and each host's signature (what a push compares to decide whether to redraw)."""
    now = now or timezone.now()
    hosts, firing_alerts = wall_hosts(now)
    by_section: dict[str, list[WallHost]] = {key: [] for key in (*PROBLEM_SECTIONS, HEALTHY)}
    for host in hosts:
        by_section[host.section].append(host)
    sections = []
    for key, title in PROBLEM_SECTIONS.items():
        members = sorted(by_section[key], key=_sort_key)
        sections.append(
            {
                "key": key,
                "title": title,
                "count": len(members),
                "rows": [_row(h, now) for h in members[:ROWS_PER_SECTION]],
                "more": max(0, len(members) - ROWS_PER_SECTION),
            }
        )
    healthy = sorted(by_section[HEALTHY], key=_sort_key)
    return {
        # The overview's answer (services/sentiment.py's rule) from the hosts already loaded.
        "sentiment": sentiment.overall(HostStatus.tally(h.status for h in hosts)),
        "firing_alerts": firing_alerts,
        "sections": sections,
        "problems": sum(s["count"] for s in sections),
        "healthy": {
            "count": len(healthy),
            "names": [h.label for h in healthy[:HEALTHY_NAMES_SHOWN]],
            "more": max(0, len(healthy) - HEALTHY_NAMES_SHOWN),
        },
        "total": len(hosts),
        "updated": now,
        "signatures": {h.id: h.signature() for h in hosts},
    }
