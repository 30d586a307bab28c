"""Check results folded into the same tiers as metrics: uptime and latency per bucket.

Driven by metrics' rollup run (metrics.rollups.roll_up, the `metrics-rollup` beat job)
through the source registered in ChecksConfig.ready(): the same cursor by id, the same
recompute-from-raw of every touched bucket, the same merge of late rows into buckets
whose raw rows are gone. Percentiles are computed here in Python over a bucket's rows
(neither SQLite nor a portable SQL has one); a bucket is at most step / interval rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime

from django.db.models import Q

from checks.models import RESULTS_CURSOR, CheckResult, CheckRollup, CheckState
from metrics.rollups import RollupSource, bucket_start, existing_rollups

# Warning counts as up: the check ran and the service answered (see CheckRollup).
UP_STATES = frozenset({CheckState.OK, CheckState.WARNING})
VALUE_FIELDS = ["runs", "up_runs", "latency_runs", "latency_avg", "latency_p95", "latency_max"]


def p95(values: list[float]) -> float | None:
    """The nearest-rank 95th percentile: the smallest value at least 95 % of values are at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def summarize(rows: list[tuple[str, float | None]]) -> dict[str, float | int | None]:
    """Counts and latency figures of one bucket's (state, latency) rows."""
    latencies = [latency for _, latency in rows if latency is not None]
    return {
        "runs": len(rows),
        "up_runs": sum(1 for state, _ in rows if state in UP_STATES),
        "latency_runs": len(latencies),
        "latency_avg": sum(latencies) / len(latencies) if latencies else None,
        "latency_p95": p95(latencies),
        "latency_max": max(latencies) if latencies else None,
    }


def new_results(after_id: int, settled_before: datetime, limit: int) -> list[tuple[int, int, datetime]]:
    return list(
        CheckResult.objects.filter(id__gt=after_id, received_at__lt=settled_before)
        .order_by("id")
        .values_list("id", "service_check_id", "at")[:limit]
    )


def recompute(step: int, touched: dict[int, set[int]]) -> None:
    # One time range over all touched checks (as metrics' recompute does), not an OR per
    # check: SQLite refuses an expression tree of a thousand ORs.
    first = min(min(buckets) for buckets in touched.values())
    last = max(max(buckets) for buckets in touched.values())
    ranges = Q(
        service_check_id__in=list(touched),
        at__gte=datetime.fromtimestamp(first * step, UTC),
        at__lt=datetime.fromtimestamp((last + 1) * step, UTC),
    )
    grouped: dict[tuple[int, int], list[tuple[str, float | None]]] = defaultdict(list)
    for check_id, at, state, latency in CheckResult.objects.filter(ranges).values_list(
        "service_check_id", "at", "state", "latency_ms"
    ):
        bucket = int(at.timestamp()) // step
        if bucket in touched[check_id]:
            grouped[(check_id, bucket)].append((state, latency))
    save_rollups(
        [
            CheckRollup(
                service_check_id=check_id,
                step=step,
                bucket_start=datetime.fromtimestamp(bucket * step, UTC),
                **summarize(rows),
            )
            for (check_id, bucket), rows in grouped.items()
        ]
    )


def merge_late(step: int, result_ids: list[int]) -> None:
    """Fold late results into rollups whose raw rows are gone.

    Counts, average and maximum stay exact; the merged p95 is the larger of the two
    parts' p95s, an upper bound (the exact figure needs rows that retention deleted).
    """
    groups: dict[tuple[int, datetime], list[tuple[str, float | None]]] = defaultdict(list)
    for check_id, at, state, latency in CheckResult.objects.filter(id__in=result_ids).values_list(
        "service_check_id", "at", "state", "latency_ms"
    ):
        groups[(check_id, bucket_start(at, step))].append((state, latency))
    existing = existing_rollups(CheckRollup, "service_check_id", step, groups)
    merged = []
    for (check_id, start), rows in groups.items():
        late = summarize(rows)
        rollup = existing.get((check_id, start))
        if rollup is None:
            merged.append(CheckRollup(service_check_id=check_id, step=step, bucket_start=start, **late))
            continue
        old_n, new_n = rollup.latency_runs, int(late["latency_runs"] or 0)
        if new_n:
            total = (rollup.latency_avg or 0.0) * old_n + float(late["latency_avg"] or 0.0) * new_n
            rollup.latency_avg = total / (old_n + new_n)
            rollup.latency_p95 = max(v for v in (rollup.latency_p95, late["latency_p95"]) if v is not None)
            rollup.latency_max = max(v for v in (rollup.latency_max, late["latency_max"]) if v is not None)
        rollup.runs += int(late["runs"] or 0)
        rollup.up_runs += int(late["up_runs"] or 0)
        rollup.latency_runs = old_n + new_n
        merged.append(rollup)
    save_rollups(merged)


def save_rollups(rollups: list[CheckRollup]) -> None:
    """Insert, or overwrite the values of, each bucket's rollup."""
    CheckRollup.objects.bulk_create(
        rollups,
        update_conflicts=True,
        unique_fields=["service_check", "step", "bucket_start"],
        update_fields=VALUE_FIELDS,
    )


RESULTS = RollupSource(cursor=RESULTS_CURSOR, new_rows=new_results, recompute=recompute, merge_late=merge_late)
