"""Rollups: raw samples folded into min/max/avg per step, built incrementally; and retention.

Each run reads the samples added since the last one (by id, so a report replayed
hours late still lands in its bucket) and recomputes every bucket they touch from
the raw rows, so a rollup is always exactly the aggregate of its raw samples.

A bucket that starts before the raw window cannot be recomputed (some of its raw rows
may be gone), yet an agent back from a three-day outage sends reports that belong
there: those samples are merged into their rollup instead (count added, min and max
widened, the average weighted by count), once each, in the run that moves the cursor
past them. Every accepted report thus reaches every tier that still keeps its time,
before retention may delete its raw row (docs/deploy.md, "Late reports").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, IntegerField, Max, Min, Model
from django.db.models.functions import Cast
from django.utils import timezone

from metrics.epoch import EpochSeconds
from metrics.models import CHARTED_COLUMNS, MetricRollup, MetricSample, RollupCursor

# A sample's transaction commits a moment after its received_at is set; reading only
# rows this old keeps a slow commit from slipping behind the cursor.
SETTLE = timedelta(seconds=10)
READ_BATCH = 20_000
DELETE_BATCH = 5_000
# Retention runs hourly; thinning looks back a little more than that (see thin_details).
THIN_LOOKBACK = timedelta(hours=3)

AGGREGATES = {"min": Min, "max": Max, "avg": Avg}


def raw_window_start(now: datetime) -> datetime:
    return now - timedelta(hours=settings.RAW_RETENTION_HOURS)


@dataclass(frozen=True)
class RollupSource:
    """A table of timed rows folded into rollups by the same cursor run as the samples.

    `new_rows(after_id, settled_before, limit)`: rows (id, series id, time) with a larger id,
    stored before `settled_before`, in id order. `recompute(step, touched)`: rebuild those
    buckets (bucket numbers per series) from the raw rows. `merge_late(step, ids)`: fold rows
    whose bucket starts before the raw window into its rollup.
    """

    cursor: str
    new_rows: Callable[[int, datetime, int], list[tuple[int, int, datetime]]]
    recompute: Callable[[int, dict[int, set[int]]], None]
    merge_late: Callable[[int, list[int]], None]


# Sources above metrics (checks) register here in their AppConfig.ready(): metrics never imports them.
_sources: list[RollupSource] = []


def add_source(source: RollupSource) -> None:
    if all(s.cursor != source.cursor for s in _sources):
        _sources.append(source)


def cursor_position(name: str) -> int:
    """The last id a source's rollups have read (retention deletes no raw row beyond it)."""
    return RollupCursor.objects.filter(name=name).values_list("last_sample_id", flat=True).first() or 0


def roll_up(now: datetime | None = None) -> int:
    """Fold new samples, then every registered source's new rows, into every tier.

    Returns how many rows were read. One beat job for all, so every table's rollups
    lag by the same few minutes.
    """
    now = now or timezone.now()
    return sum(fold(source, now) for source in [SAMPLES, *_sources])


def fold(source: RollupSource, now: datetime) -> int:
    """Fold one source's new rows into every tier; the cursor row is locked for the run,
    so two runs at once take turns."""
    read = 0
    while True:
        with transaction.atomic():
            cursor, _ = RollupCursor.objects.select_for_update().get_or_create(name=source.cursor)
            new = source.new_rows(cursor.last_sample_id, now - SETTLE, READ_BATCH)
            if not new:
                return read
            raw_start = raw_window_start(now)
            for step, keep in settings.ROLLUP_TIERS:
                touched = touched_buckets(step, [(series, at) for _, series, at in new], raw_start)
                if touched:
                    source.recompute(step, touched)
                kept_from = now - timedelta(seconds=keep)
                late = [
                    row_id
                    for row_id, _, at in new
                    if bucket_start(at, step) < raw_start and bucket_start(at, step) >= kept_from
                ]
                if late:
                    source.merge_late(step, late)
            cursor.last_sample_id = new[-1][0]
            cursor.save(update_fields=["last_sample_id", "updated_at"])
        read += len(new)


def new_samples(after_id: int, settled_before: datetime, limit: int) -> list[tuple[int, int, datetime]]:
    return list(
        MetricSample.objects.filter(id__gt=after_id, received_at__lt=settled_before)
        .order_by("id")
        .values_list("id", "host_id", "collected_at")[:limit]
    )


def bucket_start(at: datetime, step: int) -> datetime:
    return datetime.fromtimestamp(int(at.timestamp()) // step * step, UTC)


def touched_buckets(step: int, rows: list[tuple[int, datetime]], raw_start: datetime) -> dict[int, set[int]]:
    """Bucket numbers (epoch seconds // step) per series (a host, a check), for buckets whose
    raw rows are all still kept."""
    touched: dict[int, set[int]] = defaultdict(set)
    for series, at in rows:
        bucket = int(at.timestamp()) // step
        if bucket * step >= raw_start.timestamp():
            touched[series].add(bucket)
    return touched


def recompute(step: int, touched: dict[int, set[int]]) -> None:
    first = min(min(buckets) for buckets in touched.values())
    last = max(max(buckets) for buckets in touched.values())
    rows = (
        MetricSample.objects.filter(
            host_id__in=list(touched),
            collected_at__gte=datetime.fromtimestamp(first * step, UTC),
            collected_at__lt=datetime.fromtimestamp((last + 1) * step, UTC),
        )
        .annotate(bucket=Cast(EpochSeconds("collected_at") / step, IntegerField()))
        .values("host_id", "bucket")
        .annotate(
            sample_count=Count("id"),
            **{
                f"{column}_{name}": aggregate(column)
                for column in CHARTED_COLUMNS
                for name, aggregate in AGGREGATES.items()
            },
        )
    )
    rollups = [
        MetricRollup(step=step, bucket_start=datetime.fromtimestamp(row.pop("bucket") * step, UTC), **row)
        for row in rows
        if row["bucket"] in touched[row["host_id"]]
    ]
    save_rollups(rollups)


R = TypeVar("R", bound=Model)


def existing_rollups(
    model: type[R], owner: str, step: int, keys: Collection[tuple[int, datetime]]
) -> dict[tuple[int, datetime], R]:
    """The rollups already stored for these (owner id, bucket start) keys, by key: one query
    over the keys' time range. Late rows merge into them (each source's merge_late)."""
    starts = [start for _, start in keys]
    rollups = model._default_manager.filter(
        step=step,
        bucket_start__gte=min(starts),
        bucket_start__lte=max(starts),
        **{f"{owner}__in": {owner_id for owner_id, _ in keys}},
    )
    by_key: dict[tuple[int, datetime], R] = {}
    for rollup in rollups:
        fields: Any = rollup  # MetricRollup or CheckRollup: both have bucket_start
        by_key[(getattr(fields, owner), fields.bucket_start)] = rollup
    return by_key


def merge_late(step: int, sample_ids: list[int]) -> None:
    """Fold samples whose bucket starts before the raw window into that bucket's rollup."""
    groups: dict[tuple[int, datetime], list[dict[str, float]]] = defaultdict(list)
    for row in MetricSample.objects.filter(id__in=sample_ids).values("host_id", "collected_at", *CHARTED_COLUMNS):
        groups[(row["host_id"], bucket_start(row["collected_at"], step))].append(row)
    existing = existing_rollups(MetricRollup, "host_id", step, groups)
    merged = []
    for (host_id, start), samples in groups.items():
        rollup = existing.get((host_id, start)) or MetricRollup(
            host_id=host_id, step=step, bucket_start=start, sample_count=0
        )
        had, adding = rollup.sample_count, len(samples)
        for column in CHARTED_COLUMNS:
            values = [sample[column] for sample in samples]
            low, high, total = min(values), max(values), sum(values)
            if had:
                low = min(low, getattr(rollup, f"{column}_min"))
                high = max(high, getattr(rollup, f"{column}_max"))
                total += getattr(rollup, f"{column}_avg") * had
            setattr(rollup, f"{column}_min", low)
            setattr(rollup, f"{column}_max", high)
            setattr(rollup, f"{column}_avg", total / (had + adding))
        rollup.sample_count = had + adding
        merged.append(rollup)
    save_rollups(merged)


SAMPLES = RollupSource(cursor="samples", new_rows=new_samples, recompute=recompute, merge_late=merge_late)


def save_rollups(rollups: list[MetricRollup]) -> None:
    """Insert, or overwrite the values of, each bucket's rollup."""
    value_fields = ["sample_count", *(f"{c}_{a}" for c in CHARTED_COLUMNS for a in AGGREGATES)]
    MetricRollup.objects.bulk_create(
        rollups, update_conflicts=True, unique_fields=["host", "step", "bucket_start"], update_fields=value_fields
    )


def delete_expired(now: datetime | None = None) -> dict[str, int]:
    """Thin old samples' detail, delete raw samples past RAW_RETENTION_HOURS (once rolled up)
    and rollups past their tier's keep.

    In batches, each its own short transaction, so ingest never waits long for the lock.
    """
    now = now or timezone.now()
    thinned = thin_details(now)
    cursor = cursor_position(SAMPLES.cursor)
    deleted = {
        "details_thinned": thinned,
        "samples": delete_in_batches(
            MetricSample.objects.filter(collected_at__lt=raw_window_start(now), id__lte=cursor)
        ),
    }
    deleted.update(expire_rollups(MetricRollup.objects.all(), now))
    return deleted


def expire_rollups(queryset: Any, now: datetime) -> dict[str, int]:
    """Delete rollups (any model with `step` and `bucket_start`) past their tier's keep,
    and those of tiers no longer configured."""
    deleted = {}
    for step, keep in settings.ROLLUP_TIERS:
        deleted[f"rollups_{step}s"] = delete_in_batches(
            queryset.filter(step=step, bucket_start__lt=now - timedelta(seconds=keep))
        )
    configured = [step for step, _ in settings.ROLLUP_TIERS]
    deleted["rollups_unconfigured"] = delete_in_batches(queryset.exclude(step__in=configured))
    return deleted


def thin_details(now: datetime) -> int:
    """Drop the per-core/mount/interface detail of samples older than DETAIL_RETENTION_HOURS.

    Charts and rollups read only the columns; the detail (two thirds of a row) is for
    looking at a recent moment closely. Only the last THIN_LOOKBACK before the cutoff is
    scanned, so the hourly run stays cheap; a row it misses goes with its raw sample.
    """
    cutoff = now - timedelta(hours=settings.DETAIL_RETENTION_HOURS)
    stale = MetricSample.objects.filter(collected_at__gte=cutoff - THIN_LOOKBACK, collected_at__lt=cutoff).exclude(
        detail={}
    )
    total = 0
    while ids := list(stale.values_list("id", flat=True)[:DELETE_BATCH]):
        total += MetricSample.objects.filter(id__in=ids).update(detail={})
    return total


def delete_in_batches(queryset: object) -> int:
    model = queryset.model  # type: ignore[attr-defined]
    total = 0
    while True:
        ids = list(queryset.values_list("id", flat=True)[:DELETE_BATCH])  # type: ignore[attr-defined]
        if not ids:
            return total
        total += model.objects.filter(id__in=ids).delete()[0]
