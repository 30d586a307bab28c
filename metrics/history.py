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


def _bucket_rows(host: Host, range_key: str) -> tuple[int, list[dict[str, Any]]]:
    step = bucket_seconds(range_key)
    since = timezone.now() - RANGES[range_key]
    rows = (
        MetricSample.objects.filter(host=host, collected_at__gte=since)
        .annotate(bucket=Cast(EpochSeconds("collected_at") / step, IntegerField()))
        .values("bucket")
        .annotate(
            **{f"avg_{name}": Avg(F(name), output_field=FloatField()) for name in SERIES},
            max_cpu_percent=Max("cpu_percent"),
            last_id=Max("id"),
        )
        .order_by("bucket")
    )
    return step, list(rows)


def _summary(range_key: str, step: int, points: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "range": range_key,
        "step_seconds": step,
        "timestamps": [p["bucket"] * step for p in points],
        "series": {
            **{name: [p[f"avg_{name}"] for p in points] for name in SERIES},
            "cpu_max": [p["max_cpu_percent"] for p in points],
        },
    }


def history(host: Host, range_key: str) -> dict[str, Any]:
    """Average per bucket for each series (peaks kept for CPU), oldest first."""
    step, points = _bucket_rows(host, range_key)
    return _summary(range_key, step, points)


def history_with_detail(host: Host, range_key: str) -> dict[str, Any]:
    """`history` plus per-core CPU, per-mount disk usage and per-interface network series.

    Those live in each sample's JSON `detail`, which SQL cannot average portably, so
    each bucket shows its newest sample's detail: one extra query for at most
    MAX_POINTS rows, whatever the range.
    """
    step, points = _bucket_rows(host, range_key)
    result = _summary(range_key, step, points)
    details = dict(MetricSample.objects.filter(id__in=[p["last_id"] for p in points]).values_list("id", "detail"))
    result["detail"] = detail_series([details.get(p["last_id"], {}) for p in points])
    return result


def detail_series(details: list[dict[str, Any]]) -> dict[str, Any]:
    """Align per-core, per-mount and per-interface values by point; None where one is missing."""
    n = len(details)
    cores: list[list[float | None]] = []
    disks: dict[str, list[float | None]] = {}
    network: dict[str, dict[str, list[float | None]]] = {}
    for i, detail in enumerate(details):
        for c, value in enumerate(detail.get("per_core") or []):
            while len(cores) <= c:
                cores.append([None] * n)
            cores[c][i] = value
        for disk in detail.get("disks") or []:
            disks.setdefault(disk["mount"], [None] * n)[i] = disk["percent"]
        for nic in detail.get("network") or []:
            series = network.setdefault(nic["interface"], {"rx": [None] * n, "tx": [None] * n})
            series["rx"][i] = nic["rx_bytes_per_s"]
            series["tx"][i] = nic["tx_bytes_per_s"]
    return {"cores": cores, "disks": disks, "network": network}


def live_point(host: Host) -> dict[str, Any] | None:
    """The newest sample shaped like a one-point `history_with_detail`, for charts to append."""
    sample = MetricSample.objects.filter(host=host).order_by("-collected_at").first()
    if sample is None:
        return None
    values = {name: [getattr(sample, name)] for name in SERIES}
    return {
        "timestamps": [int(sample.collected_at.timestamp())],
        "series": {**values, "cpu_max": [sample.cpu_percent]},
        "detail": detail_series([sample.detail]),
    }
