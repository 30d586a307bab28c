"""Public checks as components of the public status page (services/status_page.py asks this source).

Only checks an admin marked public (and enabled) show, with their state, 90 days of
daily uptime bars from rollups and a day of latency for the sparkline; never their
target, options or messages (a URL or an error text may say more than the owner meant).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from checks.history import daily_uptime, recent_latency
from checks.models import SENTIMENT_STATUS, Check, CheckState
from services import status_page

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


def register() -> None:
    status_page.add_component_source(public_components)
