"""History for charts: downsampled server-side to at most about 600 points a series.

Ranges within RAW_RETENTION_HOURS read raw samples; longer ones read the coarsest
rollup tier that still gives ~600 points, so a 30-day chart reads hundreds of rows.

Silence is kept as silence: where two points are further apart than a host may
go quiet and still count as online (`gap_seconds`), the missing steps are filled
with None here, on the server, so every reader (the charts, the API) sees the gap
and a chart that does not span gaps draws none across it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, F, FloatField, IntegerField, Max, Sum
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


def gap_seconds(step: int) -> int:
    """Points further apart than this have a gap between them.

    The same silence that turns a host stale (STALE_AFTER_INTERVALS missed reports);
    never less than one step, since one step apart is as dense as a range gets.
    """
    return max(step, settings.REPORT_INTERVAL * settings.STALE_AFTER_INTERVALS)


def fill_gaps(buckets: list[int], step: int) -> list[int | None]:
    """Bucket numbers in order with a None for every missing step inside each gap.

    Steps missing between points closer than `gap_seconds` are left out: an agent
    reporting less often than a short range's step leaves empty buckets that are no gap.
    """
    limit = gap_seconds(step)
    filled: list[int | None] = []
    for i, bucket in enumerate(buckets):
        if i and (bucket - buckets[i - 1]) * step > limit:
            filled.extend([None] * (bucket - buckets[i - 1] - 1))
        filled.append(bucket)
    return filled


def _window(range_key: str) -> tuple[int, int]:
    """The range as a chart's x axis spans it: (start, end) in seconds since 1970, ending now."""
    end = int(timezone.now().timestamp())
    return end - int(RANGES[range_key].total_seconds()), end


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
                reports=Count("id"),
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
                reports=Sum("sample_count"),
            )
            .order_by("bucket")
        )
    by_bucket = {p["bucket"]: p for p in points}
    buckets = fill_gaps([p["bucket"] for p in points], step)
    # A gap's steps count on from the bucket before it.
    timestamps: list[int] = []
    for bucket in buckets:
        timestamps.append(bucket * step if bucket is not None else timestamps[-1] + step)
    rows = [by_bucket.get(b) if b is not None else None for b in buckets]
    start, end = _window(range_key)

    def column(key: str) -> list[Any]:
        return [row[key] if row is not None else None for row in rows]

    result = {
        "range": range_key,
        "start": start,
        "end": end,
        "step_seconds": step,
        "gap_seconds": gap_seconds(step),
        "rollup": tier is not None,
        "timestamps": timestamps,
        # Reports behind each point: a live report in the newest step joins its average.
        "counts": column("reports"),
        "series": {
            **{name: column(f"avg_{name}") for name in SERIES},
            "cpu_max": column("max_cpu_percent"),
        },
    }
    return result, column("last_id") if tier is None else None


def history_with_detail(host: Host, range_key: str) -> dict[str, Any]:
    """`history` plus per-core CPU, per-mount disk usage and per-interface network series.

    Those live in raw samples' JSON `detail` (kept DETAIL_RETENTION_HOURS), which SQL
    cannot average portably, so each bucket shows its newest sample's detail: one
    extra query for at most MAX_POINTS rows. Ranges read from rollups have no detail:
    they show the fullest mount and all interfaces together instead.
    """
    result, last_ids = _history(host, range_key)
    if last_ids is None:
        result["detail"] = totals_detail(result["series"])
    else:
        details = dict(MetricSample.objects.filter(id__in=[i for i in last_ids if i]).values_list("id", "detail"))
        result["detail"] = detail_series([details.get(i) or {} if i else {} for i in last_ids])
    result["latest"] = _latest_in_range(host, result)
    return result


def totals_detail(series: dict[str, list[Any]]) -> dict[str, Any]:
    """What ranges read from rollups chart instead of per-core/mount/interface detail."""
    return {
        "cores": [],
        "disks": {"fullest mount": series["disk_percent"]},
        "network": {"all": {"rx": series["net_rx_bps"], "tx": series["net_tx_bps"]}},
    }


def _latest_in_range(host: Host, result: dict[str, Any]) -> dict[str, Any] | None:
    """The newest report, shaped like the range's points: the charts' "now" column.

    The same sample as the summary above the charts (the latest-metrics cache holds
    the newest report too), not the last step's average: with steps of minutes a step
    averages many reports and would disagree with it.
    """
    point = live_point(host)
    if point is None or point["timestamps"][0] < result["start"]:
        return None
    if result["rollup"]:
        point["detail"] = totals_detail(point["series"])
    return point


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
