"""Dashboard server time: the overview and a host page's 30-day chart data.

    .venv/bin/python bench/dashboard.py --hosts 500 --full-hosts 1 --days 30 --repeat 40

Builds a fresh SQLite database under a temporary DATA_DIR (or uses DATABASE_URL):
  - `--hosts` hosts with a minute of recent samples each (what the overview reads), and
  - `--full-hosts` of them with `--days` of history at REPORT_INTERVAL (10 s): 259,200
    rows per host for 30 days, rolled up into ROLLUP_TIERS as beat would. All 500 hosts with 30 days would be 130M rows, too many
    for this machine; the chart query only ever reads one host's rows, so one host
    with the full history measures it.
Requests go through Django's test client with a logged-in session (middleware,
view, template rendering: the server's share, not the network's). Prints p50/p95
and SQL queries per page, with 10 hosts and then with all of them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def setup_django(data_dir: str) -> None:
    os.environ.setdefault("DATA_DIR", data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["REDIS_URL"] = os.environ.get("REDIS_URL", "")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def make_samples(host: Any, start: Any, count: int, every: int) -> list[Any]:
    from metrics.models import MetricSample
    from statusdash.tests.support import sample_report

    template = MetricSample.from_report(host, {**sample_report(seed=host.pk), "collected_at": start})
    samples = []
    for i in range(count):
        sample = MetricSample(**{f.attname: getattr(template, f.attname) for f in MetricSample._meta.concrete_fields})
        sample.id = None
        sample.collected_at = start + timedelta(seconds=i * every)
        sample.cpu_percent = (i * 7) % 100
        samples.append(sample)
    return samples


def add_hosts(first: int, last: int) -> list[Any]:
    from django.utils import timezone

    from hosts.models import Host
    from metrics.models import MetricSample

    now = timezone.now()
    hosts = Host.objects.bulk_create(
        [Host(name=f"host-{i:04d}", tags=["even" if i % 2 else "odd"], last_seen=now) for i in range(first, last)]
    )
    rows: list[Any] = []
    for host in hosts:
        rows.extend(make_samples(host, now - timedelta(seconds=60), 6, 10))
    MetricSample.objects.bulk_create(rows, batch_size=2000)
    return hosts


def add_history(host: Any, days: int, every: int) -> int:
    from django.db import transaction
    from django.utils import timezone

    from metrics.models import MetricSample

    count = days * 86400 // every
    start = timezone.now() - timedelta(days=days) + timedelta(seconds=90)
    chunk = 20_000
    for offset in range(0, count, chunk):
        with transaction.atomic():
            MetricSample.objects.bulk_create(
                make_samples(host, start + timedelta(seconds=offset * every), min(chunk, count - offset), every),
                batch_size=2000,
                ignore_conflicts=True,
            )
    return count


def timed(client: Any, url: str, repeat: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: the session and the latest-metrics cache
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    queries = len(captured)  # now: the next request's start clears the log
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--full-hosts", type=int, default=1, help="hosts given the whole --days of history")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="statusdash-bench-")
    setup_django(data_dir)
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.create_user("bench"))
    print(f"database: {connection.vendor}  DATA_DIR={data_dir}  repeat={args.repeat}")

    results = []
    few = add_hosts(0, 10)
    p50, p95, queries = timed(client, "/", args.repeat)
    results.append(("overview, 10 hosts", p50, p95, queries))
    add_hosts(10, args.hosts)
    for label, url in (
        (f"overview, {args.hosts} hosts", "/"),
        (f"overview, {args.hosts} hosts, filtered+sorted", "/?tag=odd&sort=cpu&q=host"),
        (f"overview fragment (htmx), {args.hosts} hosts", "/?sort=disk"),
    ):
        if "htmx" in label:
            client.defaults["HTTP_HX_REQUEST"] = "true"
        p50, p95, queries = timed(client, url, args.repeat)
        client.defaults.pop("HTTP_HX_REQUEST", None)
        results.append((label, p50, p95, queries))

    started = time.perf_counter()
    rows = sum(add_history(host, args.days, settings.REPORT_INTERVAL) for host in few[: args.full_hosts])
    print(f"generated {rows:,} history rows for {args.full_hosts} host(s) in {time.perf_counter() - started:.0f} s")
    # What beat's metrics-rollup task did every minute while the history arrived (it only
    # rolls buckets still inside the raw window, so widen the window for this one catch-up).
    # Ranges beyond RAW_RETENTION_HOURS read these.
    from django.test import override_settings
    from django.utils import timezone

    from metrics.rollups import roll_up

    started = time.perf_counter()
    with override_settings(RAW_RETENTION_HOURS=args.days * 24 + 1):
        read = roll_up(timezone.now() + timedelta(minutes=5))
    print(f"rolled up {read:,} samples into tiers {settings.ROLLUP_TIERS} in {time.perf_counter() - started:.0f} s")
    name = few[0].name
    for range_key in ("1h", "24h", "7d", "30d"):
        url = f"/hosts/{name}/history/?range={range_key}"
        p50, p95, queries = timed(client, url, max(5, args.repeat // 4))
        points = len(client.get(url).json()["timestamps"])
        results.append((f"chart data {range_key}, {points} points", p50, p95, queries))
    p50, p95, queries = timed(client, f"/hosts/{name}/?range=30d", max(5, args.repeat // 4))
    results.append(("host page 30d (html + chart data)", p50, p95, queries))

    print(f"{'page':<52} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for label, p50, p95, queries in results:
        print(f"{label:<52} {p50:>8.1f} {p95:>8.1f} {queries:>8}")


if __name__ == "__main__":
    main()
