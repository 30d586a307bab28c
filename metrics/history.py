"""History for charts: downsampled server-side to at most about 600 points a series.

Ranges within RAW_RETENTION_HOURS read raw samples; longer ones read the coarsest
rollup tier that still gives ~600 points, so a 30-day chart reads hundreds of rows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, F, FloatField, IntegerField, Max, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from hosts.models import Host
from metrics.epoch import EpochSeconds
from metrics.models import CHARTED_COLUMNS, MetricRollup, MetricSample

RANGES = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
MAX_POINTS = 600
SERIES = CHARTED_COLUMNS


def bucket_seconds(range_key: str) -> int:
    return max(1, int(RANGES[range_key].total_seconds() // MAX_POINTS))


def rollup_step(range_key: str) -> int | None:
    """The rollup tier a range reads, or None for raw samples."""
    span = RANGES[range_key].total_seconds()
    if span <= settings.RAW_RETENTION_HOURS * 3600 or not settings.ROLLUP_TIERS:
        return None
    wanted = bucket_seconds(range_key)
    covering = [step for step, keep in settings.ROLLUP_TIERS if keep >= span]
    if not covering:
        return max(settings.ROLLUP_TIERS, key=lambda tier: tier[1])[0]
    fine_enough = [step for step in covering if step <= wanted]
    return max(fine_enough) if fine_enough else min(covering)


def history(host: Host, range_key: str) -> dict[str, Any]:
    """Average per bucket for each series (peaks kept for CPU), oldest first."""
    since = timezone.now() - RANGES[range_key]
    tier = rollup_step(range_key)
    if tier is None:
        step = bucket_seconds(range_key)
        points = list(
            MetricSample.objects.filter(host=host, collected_at__gte=since)
            .annotate(bucket=Cast(EpochSeconds("collected_at") / step, IntegerField()))
            .values("bucket")
            .annotate(
                **{f"avg_{name}": Avg(F(name), output_field=FloatField()) for name in SERIES},
                max_cpu_percent=Max("cpu_percent"),
            )
            .order_by("bucket")
        )
    else:
        # A whole number of rollup steps per point, so every point covers the same time.
        step = -(-bucket_seconds(range_key) // tier) * tier
        points = list(
            MetricRollup.objects.filter(host=host, step=tier, bucket_start__gte=since)
            .annotate(bucket=Cast(EpochSeconds("bucket_start") / step, IntegerField()))
            .values("bucket")
            .annotate(
                # Weighted by sample count: the average of the samples, not of the averages.
                **{
                    f"avg_{name}": Sum(F(f"{name}_avg") * F("sample_count"), output_field=FloatField())
                    / Sum("sample_count", output_field=FloatField())
                    for name in SERIES
                },
                max_cpu_percent=Max("cpu_percent_max"),
            )
            .order_by("bucket")
        )
    return {
        "range": range_key,
        "step_seconds": step,
        "timestamps": [p["bucket"] * step for p in points],
        "series": {
            **{name: [p[f"avg_{name}"] for p in points] for name in SERIES},
            "cpu_max": [p["max_cpu_percent"] for p in points],
        },
    }
