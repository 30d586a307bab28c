"""Public checks as components and incidents of the public status page (services/status_page.py
asks these sources).

Only checks an admin marked public (and enabled) show, with their state, 90 days of
daily uptime bars from rollups, a day of latency for the sparkline, and their down
periods of the last INCIDENT_DAYS as incidents; never their target, options or messages
(a URL or an error text may say more than the owner meant).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from checks.history import daily_uptime, recent_latency
from checks.models import SENTIMENT_STATUS, Check, CheckFlip, CheckState
from services import status_page

# How far back the page lists a public check's down periods, and at most how many.
INCIDENT_DAYS = 7
MAX_INCIDENTS = 20
# The states that make a down period, worst last; `unknown` (nobody could tell) is not an outage.
DOWN_STATES: list[str] = [CheckState.WARNING, CheckState.CRITICAL]

# What a visitor reads, where it differs from the service status a check counts as.
WORDS = {CheckState.WARNING: ("degraded", "Degraded")}


def public_components(now: datetime, days: list[date]) -> list[dict[str, Any]]:
    """Three queries whatever the number of public checks: the checks, their days, their latency."""
    checks = list(Check.objects.filter(public=True, enabled=True))
    ids = [check.pk for check in checks]
    per_day = daily_uptime(ids, len(days), now)
    latency = recent_latency(ids, now=now)
    history = {
        ("check", check_id): {day: (float(runs), float(up)) for day, (runs, up) in rows.items()}
        for check_id, rows in per_day.items()
    }
    components = []
    for check in checks:
        state = CheckState(check.state)
        status = SENTIMENT_STATUS[state] if check.last_result_at else "unknown"
        row = status_page.component("check", check.pk, check.name, status, history, days)
        if state in WORDS and check.last_result_at:
            row["css"], row["words"] = WORDS[state]
        row["latency"] = latency.get(check.pk, [])
        components.append(row)
    return components


def public_incidents(now: datetime) -> list[dict[str, Any]]:
    """Each public check's down periods (warning or critical, as the hub decided them after
    the retries: its flips) that overlap the last INCIDENT_DAYS, newest first. Two queries."""
    checks = {check.pk: check for check in Check.objects.filter(public=True, enabled=True)}
    cutoff = now - timedelta(days=INCIDENT_DAYS)
    flips = CheckFlip.objects.filter(service_check__in=list(checks), at__gte=cutoff).order_by("at", "id")
    periods: list[dict[str, Any]] = []
    open_periods: dict[int, dict[str, Any]] = {}
    seen: set[int] = set()
    for flip in flips:
        check_id = flip.service_check_id
        if check_id not in seen and flip.old_state in DOWN_STATES:
            # Already down when the window opened: began before it.
            open_periods[check_id] = {"check": checks[check_id], "start": None, "worst": flip.old_state}
        seen.add(check_id)
        period = open_periods.get(check_id)
        if flip.new_state in DOWN_STATES:
            if period is None:
                open_periods[check_id] = {"check": checks[check_id], "start": flip.at, "worst": flip.new_state}
            elif DOWN_STATES.index(flip.new_state) > DOWN_STATES.index(period["worst"]):
                period["worst"] = flip.new_state
        elif period is not None:
            periods.append(incident(period, ended=flip.at))
            del open_periods[check_id]
    for check_id, check in checks.items():
        # Down since before the window, with no flip inside it.
        if check_id not in seen and check.state in DOWN_STATES and check.last_result_at:
            open_periods[check_id] = {"check": check, "start": None, "worst": check.state}
    periods.extend(incident(period, ended=None) for period in open_periods.values())
    periods.sort(key=status_page.incident_order)
    return periods[:MAX_INCIDENTS]


def incident(period: dict[str, Any], ended: datetime | None) -> dict[str, Any]:
    """A down period as the page shows it: what a visitor may read, not the check's message."""
    name, worst, start = period["check"].name, period["worst"], period["start"]
    words = "down" if worst == CheckState.CRITICAL else "degraded"
    if ended is None:
        title, message = f"{name} is {words}", f"{name} is not answering as expected."
    else:
        title = f"{name} was {words}"
        message = f"Resolved after {duration(ended - start)}." if start else "Resolved."
    return {"title": title, "severity": worst, "started_at": start, "ended_at": ended, "message": message}


def duration(span: timedelta) -> str:
    minutes = max(1, round(span.total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def register() -> None:
    status_page.add_component_source(public_components)
    status_page.add_incident_source(public_incidents)
