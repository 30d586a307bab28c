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
    return _history(host, range_key)[0]


def _history(host: Host, range_key: str) -> tuple[dict[str, Any], list[int] | None]:
    """`history`, and for raw ranges the id of each bucket's newest sample (None for rollups)."""
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
                last_id=Max("id"),
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
    result = {
        "range": range_key,
        "step_seconds": step,
        "timestamps": [p["bucket"] * step for p in points],
        "series": {
            **{name: [p[f"avg_{name}"] for p in points] for name in SERIES},
            "cpu_max": [p["max_cpu_percent"] for p in points],
        },
    }
    return result, [p["last_id"] for p in points] if tier is None else None


def history_with_detail(host: Host, range_key: str) -> dict[str, Any]:
    """`history` plus per-core CPU, per-mount disk usage and per-interface network series.

    Those live in raw samples' JSON `detail` (kept DETAIL_RETENTION_HOURS), which SQL
    cannot average portably, so each bucket shows its newest sample's detail: one
    extra query for at most MAX_POINTS rows. Ranges read from rollups have no detail:
    they show the fullest mount and all interfaces together instead.
    """
    result, last_ids = _history(host, range_key)
    if last_ids is None:
        series = result["series"]
        result["detail"] = {
            "cores": [],
            "disks": {"fullest mount": series["disk_percent"]},
            "network": {"all": {"rx": series["net_rx_bps"], "tx": series["net_tx_bps"]}},
        }
        return result
    details = dict(MetricSample.objects.filter(id__in=last_ids).values_list("id", "detail"))
    result["detail"] = detail_series([details.get(i) or {} for i in last_ids])
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
