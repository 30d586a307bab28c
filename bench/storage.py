"""Storage per host in steady state with rollups, and chart query times.

    python bench/storage.py [--hosts 3]

Builds a fresh SQLite database in a temporary DATA_DIR holding, per host, what
retention keeps at a 10 s report interval with the default tiers: 48 h of raw
samples (rolled up by the real roll_up) and 1-minute/15-minute/1-hour rollups
for the rest of their keep. Prints bytes per host for 30 days and the time of
the history query for each range.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATA_DIR = tempfile.mkdtemp(prefix="statusdash-bench-")
os.environ.update({"DATA_DIR": DATA_DIR, "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from hosts.models import Host  # noqa: E402
from metrics.history import RANGES, history  # noqa: E402
from metrics.models import CHARTED_COLUMNS, MetricRollup, MetricSample  # noqa: E402
from metrics.rollups import roll_up  # noqa: E402
from statusdash.tests.support import sample_report  # noqa: E402

INTERVAL = 10


def database_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return int(pages * cursor.fetchone()[0])


def table_bytes() -> list[tuple[str, int]]:
    """Bytes per table and index (SQLite's dbstat), largest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'metrics_%' OR name LIKE '%sample%' "
            "OR name LIKE '%rollup%' GROUP BY name ORDER BY 2 DESC"
        )
        return [(name, int(size)) for name, size in cursor.fetchall()]


def fill_raw(host: Host, now: datetime, rnd: random.Random) -> None:
    """Raw samples for the raw window; detail only for the newest DETAIL_RETENTION_HOURS (as retention leaves it)."""
    count = settings.RAW_RETENTION_HOURS * 3600 // INTERVAL
    detailed = settings.DETAIL_RETENTION_HOURS * 3600 // INTERVAL
    batch = []
    for i in range(count):
        report = sample_report(now - timedelta(seconds=i * INTERVAL), seed=rnd.randrange(10**9))
        report["collected_at"] = now - timedelta(seconds=i * INTERVAL)
        sample = MetricSample.from_report(host, report)
        if i >= detailed:
            sample.detail = {}
        batch.append(sample)
        if len(batch) == 5000:
            MetricSample.objects.bulk_create(batch)
            batch = []
    MetricSample.objects.bulk_create(batch)


def fill_old_rollups(host: Host, now: datetime, rnd: random.Random) -> None:
    """Rollups older than the raw window, as earlier runs of roll_up left them."""
    raw_start = now - timedelta(hours=settings.RAW_RETENTION_HOURS)
    for step, keep in settings.ROLLUP_TIERS:
        first = int((now - timedelta(seconds=keep)).timestamp()) // step + 1
        last = int(raw_start.timestamp()) // step
        rows = []
        for bucket in range(first, last):
            values = {}
            for column in CHARTED_COLUMNS:
                low = rnd.uniform(0, 50)
                values[f"{column}_min"], values[f"{column}_max"] = low, low + rnd.uniform(0, 50)
                values[f"{column}_avg"] = low + rnd.uniform(0, 25)
            rows.append(
                MetricRollup(
                    host=host,
                    step=step,
                    bucket_start=datetime.fromtimestamp(bucket * step, UTC),
                    sample_count=step // INTERVAL,
                    **values,
                )
            )
        MetricRollup.objects.bulk_create(rows, batch_size=5000)


def time_query(host: Host, range_key: str, repeats: int = 20) -> tuple[float, int]:
    history(host, range_key)  # warm the page cache, as a dashboard in use has it
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        points = len(history(host, range_key)["timestamps"])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), points


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    empty = database_bytes()
    rnd = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    hosts = [Host.objects.create(name=f"bench-{i}", cpu_count=4) for i in range(args.hosts)]
    for host in hosts:
        fill_raw(host, now, rnd)
    started = time.perf_counter()
    roll_up(datetime.now(UTC) + timedelta(seconds=11))  # every row inserted above has settled
    rollup_seconds = time.perf_counter() - started
    for host in hosts:
        fill_old_rollups(host, now, rnd)
    total = database_bytes() - empty
    per_host = total / args.hosts
    print(
        f"tiers={settings.ROLLUP_TIERS} raw_hours={settings.RAW_RETENTION_HOURS}"
        f" detail_hours={settings.DETAIL_RETENTION_HOURS} interval={INTERVAL}s hosts={args.hosts}"
    )
    print(
        f"rows per host: raw={MetricSample.objects.count() // args.hosts} "
        + " ".join(
            f"{step}s={MetricRollup.objects.filter(step=step).count() // args.hosts}"
            for step, _ in settings.ROLLUP_TIERS
        )
    )
    print(
        f"bytes per host, {settings.RETENTION_DAYS} days steady state: {per_host / 1e6:.2f} MB"
        f" ({per_host / settings.RETENTION_DAYS / 1e3:.0f} kB per host-day)"
    )
    for name, size in table_bytes():
        print(f"  {name}: {size / args.hosts / 1e6:.2f} MB per host")
    print(f"initial roll_up of {MetricSample.objects.count()} raw samples: {rollup_seconds:.1f} s")
    for range_key in RANGES:
        ms, points = time_query(hosts[0], range_key)
        print(f"history {range_key:>3}: {ms:6.2f} ms median, {points} points")


if __name__ == "__main__":
    main()
