"""A check's history for pages: latency over a range, uptime over the last day and per day.

Ranges within RAW_RETENTION_HOURS read raw results; longer ones read the coarsest
rollup tier that still gives about MAX_POINTS points (as metrics/history.py does for
hosts). Every function reads a fixed number of queries whatever the number of checks.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from checks.models import Check, CheckResult, CheckRollup, CheckState
from checks.rollups import UP_STATES, summarize

RANGES = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
MAX_POINTS = 300
RECENT_FAILURES = 20


def rollup_step(span: timedelta) -> int | None:
    """The tier a span reads, or None for raw results."""
    if span.total_seconds() <= settings.RAW_RETENTION_HOURS * 3600 or not settings.ROLLUP_TIERS:
        return None
    wanted = span.total_seconds() / MAX_POINTS
    steps = [step for step, _ in settings.ROLLUP_TIERS]
    coarse_enough = [step for step in steps if step >= wanted]
    return min(coarse_enough) if coarse_enough else max(steps)


def latency(check: Check, range_key: str, now: datetime | None = None) -> dict[str, Any]:
    """Points {t (epoch s), avg, max, uptime} over the range, oldest first, and the step read."""
    now = now or timezone.now()
    span = RANGES[range_key]
    start = now - span
    step = rollup_step(span)
    if step is not None:
        rows = CheckRollup.objects.filter(service_check=check, step=step, bucket_start__gte=start).order_by(
            "bucket_start"
        )
        points = [
            {"t": int(r.bucket_start.timestamp()), "avg": r.latency_avg, "max": r.latency_max, "uptime": r.uptime}
            for r in rows
        ]
        return {"range": range_key, "step": step, "source": "rollups", "points": points}
    step = max(1, int(span.total_seconds() // MAX_POINTS))
    grouped: dict[int, list[tuple[str, float | None]]] = defaultdict(list)
    for at, state, ms in CheckResult.objects.filter(service_check=check, at__gte=start).values_list(
        "at", "state", "latency_ms"
    ):
        grouped[int(at.timestamp()) // step * step].append((state, ms))
    points = []
    for t in sorted(grouped):
        summary = summarize(grouped[t])
        runs = int(summary["runs"] or 0)
        uptime = int(summary["up_runs"] or 0) / runs if runs else None
        points.append({"t": t, "avg": summary["latency_avg"], "max": summary["latency_max"], "uptime": uptime})
    return {"range": range_key, "step": step, "source": "results", "points": points}


def uptime_last_day(check_ids: list[int], now: datetime | None = None) -> dict[int, float]:
    """Each check's share of up runs (ok or warning) over the last 24 h, from raw results; one query."""
    since = (now or timezone.now()) - timedelta(hours=24)
    rows = (
        CheckResult.objects.filter(service_check_id__in=check_ids, at__gte=since)
        .values("service_check_id")
        .annotate(runs=Count("id"), up=Count("id", filter=Q(state__in=list(UP_STATES))))
    )
    return {row["service_check_id"]: row["up"] / row["runs"] for row in rows if row["runs"]}


def daily_uptime(
    check_ids: list[int], days: int, now: datetime | None = None
) -> dict[int, dict[date, tuple[int, int]]]:
    """(runs, up runs) per check per UTC day over the last `days`, from the coarsest tier; one query."""
    now = now or timezone.now()
    first = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), UTC)
    if not settings.ROLLUP_TIERS:
        return {}
    step = max(step for step, _ in settings.ROLLUP_TIERS)
    per_day: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
    for check_id, start, runs, up in CheckRollup.objects.filter(
        service_check_id__in=check_ids, step=step, bucket_start__gte=first
    ).values_list("service_check_id", "bucket_start", "runs", "up_runs"):
        day = start.astimezone(UTC).date()
        had_runs, had_up = per_day[check_id].get(day, (0, 0))
        per_day[check_id][day] = (had_runs + runs, had_up + up)
    return per_day


def recent_failures(check: Check, limit: int = RECENT_FAILURES) -> list[CheckResult]:
    return list(CheckResult.objects.filter(service_check=check).exclude(state=CheckState.OK)[:limit])


def recent_latency(
    check_ids: list[int], hours: int = 24, now: datetime | None = None
) -> dict[int, list[tuple[int, float | None]]]:
    """(epoch s, average latency) per bucket of the finest tier over the last `hours`, per check; one query.

    Rollups, not raw results: a status page of many public checks reads ~100 rows each,
    and lags only by the rollup job's interval.
    """
    if not settings.ROLLUP_TIERS:
        return {}
    since = (now or timezone.now()) - timedelta(hours=hours)
    step = min(step for step, _ in settings.ROLLUP_TIERS)
    series: dict[int, list[tuple[int, float | None]]] = defaultdict(list)
    for check_id, start, avg in (
        CheckRollup.objects.filter(service_check_id__in=check_ids, step=step, bucket_start__gte=since)
        .order_by("bucket_start")
        .values_list("service_check_id", "bucket_start", "latency_avg")
    ):
        series[check_id].append((int(start.timestamp()), avg))
    return series
