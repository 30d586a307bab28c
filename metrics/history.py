"""History for charts: downsampled server-side to at most about 600 points a series."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Avg, F, FloatField, Func, IntegerField, Max
from django.db.models.functions import Cast
from django.utils import timezone

from hosts.models import Host
from metrics.models import MetricSample

RANGES = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
MAX_POINTS = 600
SERIES = [
    "cpu_percent",
    "load_1",
    "load_5",
    "load_15",
    "memory_percent",
    "swap_percent",
    "disk_percent",
    "net_rx_bps",
    "net_tx_bps",
    "disk_read_bps",
    "disk_write_bps",
]


class EpochSeconds(Func):
    """Seconds since 1970 of a datetime column, on SQLite and PostgreSQL."""

    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="CAST((julianday(%(expressions)s) - 2440587.5) * 86400 AS INTEGER)", **extra
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)", **extra
        )


def bucket_seconds(range_key: str) -> int:
    return max(1, int(RANGES[range_key].total_seconds() // MAX_POINTS))


def history(host: Host, range_key: str) -> dict[str, Any]:
    """Average per bucket for each series (peaks kept for CPU), oldest first."""
    step = bucket_seconds(range_key)
    since = timezone.now() - RANGES[range_key]
    rows = (
        MetricSample.objects.filter(host=host, collected_at__gte=since)
        .annotate(bucket=Cast(EpochSeconds("collected_at") / step, IntegerField()))
        .values("bucket")
        .annotate(
            **{f"avg_{name}": Avg(F(name), output_field=FloatField()) for name in SERIES},
            max_cpu_percent=Max("cpu_percent"),
        )
        .order_by("bucket")
    )
    points = list(rows)
    return {
        "range": range_key,
        "step_seconds": step,
        "timestamps": [p["bucket"] * step for p in points],
        "series": {
            **{name: [p[f"avg_{name}"] for p in points] for name in SERIES},
            "cpu_max": [p["max_cpu_percent"] for p in points],
        },
    }
