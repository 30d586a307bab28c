"""What the public status page shows: only components an admin marked public.

Privacy by construction: the page is built from public services and PublicHost
rows only, and from none of their addresses, metrics or error texts unless
`public_errors` / `show_alert_messages` says so. A fixed number of queries
whatever the number of components: services, hosts, 90 days of availability rows,
firing alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from alerts.models import Alert
from hosts.models import HostStatus
from services.models import DailyAvailability, PublicHost, ServiceHealth, ServiceStatus
from services.sentiment import Sentiment, host_status, overall_status

HISTORY_DAYS = 90
CONTEXT_KEY = "status-page:context"

# What a visitor reads for each status.
COMPONENT_WORDS: dict[str, tuple[str, str]] = {
    ServiceStatus.HEALTHY: ("operational", "Operational"),
    ServiceStatus.UNHEALTHY: ("outage", "Outage"),
    ServiceStatus.UNKNOWN: ("unknown", "No recent data"),
    HostStatus.ONLINE: ("operational", "Operational"),
    HostStatus.STALE: ("degraded", "Degraded"),
    HostStatus.OFFLINE: ("outage", "Outage"),
}
OVERALL_WORDS: dict[str, str] = {
    Sentiment.HEALTHY: "All systems operational",
    Sentiment.DEGRADED: "Some systems degraded",
    Sentiment.UNHEALTHY: "Service outage",
}


# Bars of these levels merge with their neighbours; the text a merged bar shows.
MERGED_LEVELS = {"ok": "99.9% up or better", "none": "no data"}


def uptime_level(uptime: float | None) -> str:
    """The CSS class of one day's bar."""
    if uptime is None:
        return "none"
    if uptime >= 0.999:
        return "ok"
    if uptime >= 0.99:
        return "minor"
    if uptime >= 0.95:
        return "major"
    return "bad"


def _bars(days: list[date], rows: dict[date, tuple[float, float]]) -> tuple[list[dict[str, Any]], float | None]:
    """The daily bars, oldest first, and the uptime over all days.

    Runs of good or empty days merge into one wide bar (`span` days), so a page of
    hundreds of mostly-healthy components stays small; a day with downtime keeps
    its own bar and percentage.
    """
    bars: list[dict[str, Any]] = []
    observed_total = up_total = 0.0
    for day in days:
        observed, up = rows.get(day, (0.0, 0.0))
        observed_total, up_total = observed_total + observed, up_total + up
        level = uptime_level(up / observed if observed else None)
        last = bars[-1] if bars else None
        if last is not None and last["level"] == level and level in MERGED_LEVELS:
            last["span"] += 1
            last["last"] = day
            continue
        uptime = f"{up / observed * 100:.2f}% up" if observed else ""
        bars.append({"level": level, "span": 1, "first": day, "last": day, "uptime": uptime})
    for bar in bars:
        when = f"{bar['first']:%b %d}" + (f" - {bar['last']:%b %d}" if bar["span"] > 1 else "")
        merged = bar["span"] > 1 or not bar["uptime"]
        bar["title"] = f"{when}: {MERGED_LEVELS[bar['level']] if merged else bar['uptime']}"
    return bars, (up_total / observed_total if observed_total else None)


def _incident(alert: Alert, label: str, show_message: bool) -> dict[str, Any]:
    if alert.rule.startswith("health-"):
        title = f"{label} is unhealthy"
    elif alert.rule.startswith("stale-"):
        title = f"{label} stopped reporting"
    elif alert.host_id is None:
        title = f"{label}: an alert reported by the service"
    else:
        title = f"{label}: {alert.rule} alert"
    return {
        "title": title,
        "severity": alert.severity,
        "started_at": alert.started_at,
        "ended_at": None,
        "message": alert.message if show_message else "",
    }


# Apps above services (checks) add their public components here from AppConfig.ready():
# each source takes (now, the days of the bars, oldest first) and returns components
# built with `component()`, whose status is a ServiceStatus.
ComponentSource = Callable[[datetime, list[date]], list[dict[str, Any]]]
_sources: list[ComponentSource] = []


def add_component_source(source: ComponentSource) -> None:
    if source not in _sources:
        _sources.append(source)


# And their incidents: each source takes `now` and returns incidents shaped like
# `_incident()`'s, with `ended_at` set for one that is over (None: ongoing) and
# `started_at` None for one that began before the source looks back.
IncidentSource = Callable[[datetime], list[dict[str, Any]]]
_incident_sources: list[IncidentSource] = []


def add_incident_source(source: IncidentSource) -> None:
    if source not in _incident_sources:
        _incident_sources.append(source)


def incident_order(incident: dict[str, Any]) -> tuple[bool, float]:
    """Ongoing first, then the most recently ended; each group newest first."""
    when = incident["ended_at"] or incident["started_at"]
    return (incident["ended_at"] is not None, -when.timestamp() if when else 0.0)


def public_status(now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    services = list(ServiceHealth.objects.tracked().filter(public=True))
    listings = list(PublicHost.objects.select_related("host").filter(host__enabled=True))
    days = [now.date() - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1)]

    history: dict[tuple[str, int], dict[date, tuple[float, float]]] = {}
    rows = DailyAvailability.objects.filter(
        Q(service__in=[s.pk for s in services]) | Q(host__in=[p.host_id for p in listings]), day__gte=days[0]
    ).values_list("service_id", "host_id", "day", "observed_seconds", "up_seconds")
    for service_id, host_id, day, observed, up in rows:
        key = ("service", service_id) if service_id else ("host", host_id)
        history.setdefault(key, {})[day] = (observed, up)

    components = []
    for service in services:
        components.append(component("service", service.pk, service.label, service.status, history, days))
    for listing in listings:
        status = host_status(listing.host.last_seen, now)
        components.append(component("host", listing.host_id, listing.label, status, history, days))
    for source in _sources:
        components.extend(source(now, days))
    components.sort(key=lambda c: c["name"].lower())

    by_service = {s.name: s for s in services}
    by_host = {p.host_id: p for p in listings}
    service_rules = Q(rule__startswith="health-") | Q(rule__startswith="stale-") | Q(rule__startswith="event:")
    firing = Alert.objects.firing().filter(
        (Q(host__isnull=True, subject__in=list(by_service)) & service_rules) | Q(host__in=list(by_host))
    )
    incidents = []
    for alert in firing.order_by("-started_at"):
        if alert.host_id is None:
            service = by_service[alert.subject]
            incidents.append(_incident(alert, service.label, service.public_errors))
        else:
            listing = by_host[alert.host_id]
            incidents.append(_incident(alert, listing.label, listing.show_alert_messages))
    for incident_source in _incident_sources:
        incidents.extend(incident_source(now))
    incidents.sort(key=incident_order)

    host_counts = HostStatus.tally(c["status"] for c in components if c["kind"] == "host")
    overall = overall_status((c["status"] for c in components if c["kind"] != "host"), host_counts)
    return {
        "title": settings.STATUS_PAGE_TITLE,
        "overall": overall,
        "overall_words": OVERALL_WORDS[overall],
        "components": components,
        "incidents": incidents,
        "first_day": days[0],
        "generated_at": now,
    }


def component(
    kind: str,
    pk: int,
    name: str,
    status: str,
    history: dict[tuple[str, int], dict[date, tuple[float, float]]],
    days: list[date],
) -> dict[str, Any]:
    """One row of the page: `history` holds (observed, up) per day (seconds, or runs) by (kind, pk)."""
    bars, uptime = _bars(days, history.get((kind, pk), {}))
    css, words = COMPONENT_WORDS[status]
    return {
        "kind": kind,
        "dom_id": f"{kind}-{pk}",
        "name": name,
        "status": status,
        "css": css,
        "words": words,
        "bars": bars,
        "uptime": uptime,
        "uptime_text": f"{uptime * 100:.2f}% uptime" if uptime is not None else "no data yet",
    }


def cached_public_status() -> dict[str, Any]:
    """The page's data, shared by the HTML and JSON versions for STATUS_PAGE_CACHE_SECONDS."""
    timeout = settings.STATUS_PAGE_CACHE_SECONDS
    context = cache.get(CONTEXT_KEY) if timeout else None
    if context is None:
        context = public_status()
        if timeout:
            cache.set(CONTEXT_KEY, context, timeout)
    return context
