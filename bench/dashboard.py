"""Dashboard server time: the overview at 10, 500 and 2,000 hosts, one report's push, chart data.

    .venv/bin/python bench/dashboard.py --hosts 2000 --full-hosts 1 --days 30 --repeat 40

Builds a fresh SQLite database under a temporary DATA_DIR (or uses DATABASE_URL):
  - `--hosts` hosts with a minute of recent samples each (what the overview reads), and
  - `--full-hosts` of them with `--days` of history at REPORT_INTERVAL (10 s): 259,200
    rows per host for 30 days, rolled up into ROLLUP_TIERS as beat would. All 500 hosts with 30 days would be 130M rows, too many
    for this machine; the chart query only ever reads one host's rows, so one host
    with the full history measures it.
Requests go through Django's test client with a logged-in session (middleware,
view, template rendering: the server's share, not the network's). Prints p50/p95
and SQL queries per page at 10, 500 and `--hosts` hosts (cards, table, each grouped by
tag; the table again with no fragment cached), and one report's push to `--sockets`
open overview sockets (channels' test communicator, in-memory layer) at each size.
"""

from __future__ import annotations

import argparse
import math
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
        [
            # Each host in two groups: one of two halves and one of 20 racks.
            Host(name=f"host-{i:04d}", tags=["even" if i % 2 else "odd", f"rack-{i % 20:02d}"], last_seen=now)
            for i in range(first, last)
        ]
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


def timed(client: Any, url: str, repeat: int, before: Any = None) -> tuple[float, float, int]:
    """p50 and p95 ms of `repeat` requests after a warm one, and the SQL queries of one.

    `before`: called before each timed request, outside the timing (to empty a cache).
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: the session, the latest-metrics cache and the fragment cache
    if before:
        before()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    queries = len(captured)  # now: the next request's start clears the log
    times = []
    for _ in range(repeat):
        if before:
            before()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return statistics.median(times), times[max(0, math.ceil(len(times) * 0.95) - 1)], queries


OVERVIEWS = (
    ("cards", "/?view=cards&group=none"),
    ("table", "/?view=table&group=none"),
    ("cards, grouped by tag", "/?view=cards&group=tag"),
    ("table, grouped by tag", "/?view=table&group=tag"),
)


def forget_fragments() -> None:
    """Every host's fragments gone: the page renders all it shows (as after a deploy)."""
    from django.core.cache import cache

    from dashboard.fragments import TEMPLATES, cache_key
    from hosts.models import Host

    ids = list(Host.objects.values_list("pk", flat=True))
    cache.delete_many([cache_key(kind, oob, i) for i in ids for kind in TEMPLATES for oob in (False, True)])


async def push_cost(host_ids: list[int], sockets: int, repeat: int) -> tuple[float, float]:
    """ms from one report's `host.updated` to its card and row on every open overview socket.

    What the server does for one report: each consumer re-reads the host and renders (the
    first renders, the rest find the fragments cached) and sends two messages. The host's
    last_seen moves before each push, so every push renders afresh as a real report does.
    """
    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import User
    from django.utils import timezone

    from dashboard import live
    from dashboard.consumers import DashboardConsumer
    from hosts.models import Host

    user = await database_sync_to_async(User.objects.get)(username="bench")
    communicators = []
    for _ in range(sockets):
        communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        communicators.append(communicator)
    layer = get_channel_layer()
    times = []
    for i in range(repeat + 1):
        host_id = host_ids[i % len(host_ids)]
        await database_sync_to_async(Host.objects.filter(pk=host_id).update)(last_seen=timezone.now())
        started = time.perf_counter()
        await layer.group_send(live.hosts_group(), {"type": "host.updated", "host_id": host_id})
        for communicator in communicators:
            card = await communicator.receive_from(timeout=10)
            row = await communicator.receive_from(timeout=10)
            assert f'data-card="{host_id}"' in card and f'data-row="{host_id}"' in row
        if i:  # the first warms the template loader
            times.append((time.perf_counter() - started) * 1000)
    for communicator in communicators:
        await communicator.disconnect()
    times.sort()
    return statistics.median(times), times[max(0, math.ceil(len(times) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=2000, help="the largest fleet; also measured at 10 and 500")
    parser.add_argument("--full-hosts", type=int, default=1, help="hosts given the whole --days of history")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--sockets", type=int, default=5, help="open overview sockets a push goes to")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="statusdash-bench-")
    setup_django(data_dir)
    from asgiref.sync import async_to_sync
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from accounts.roles import VIEWER, set_role

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.create_user("bench"))
    set_role(User.objects.get(username="bench"), VIEWER)  # a user with no role sees nothing
    print(f"database: {connection.vendor}  DATA_DIR={data_dir}  repeat={args.repeat}  sockets={args.sockets}")

    results = []
    pushes = []
    few: list[Any] = []
    sizes = sorted({min(10, args.hosts), min(500, args.hosts), args.hosts})
    for size in sizes:
        created = add_hosts(count_hosts(), size)
        few = few or created
        for label, url in OVERVIEWS:
            p50, p95, queries = timed(client, url, args.repeat)
            results.append((f"overview {label}, {size} hosts", p50, p95, queries))
        p50, p95, queries = timed(client, "/?view=table&group=none", args.repeat, before=forget_fragments)
        results.append((f"overview table, {size} hosts, fragments not cached", p50, p95, queries))
        p50, p95, queries = timed(client, "/?view=table&group=none&tag=odd&sort=cpu&q=host", args.repeat)
        results.append((f"overview table filtered+sorted, {size} hosts", p50, p95, queries))
        client.defaults["HTTP_HX_REQUEST"] = "true"
        p50, p95, queries = timed(client, "/?view=table&group=none&sort=disk", args.repeat)
        client.defaults.pop("HTTP_HX_REQUEST", None)
        results.append((f"overview fragment (htmx) table, {size} hosts", p50, p95, queries))
        ids = [host.pk for host in few]
        p50, p95 = async_to_sync(push_cost)(ids, args.sockets, args.repeat)
        pushes.append((f"one report's push, {size} hosts, {args.sockets} sockets", p50, p95))

    started = time.perf_counter()
    rows = sum(add_history(host, args.days, settings.REPORT_INTERVAL) for host in few[: args.full_hosts])
    print(f"generated {rows:,} history rows for {args.full_hosts} host(s) in {time.perf_counter() - started:.0f} s")
    # What beat's metrics-rollup task did every minute while the history arrived (it only
    # rolls buckets still inside the raw window, so widen the window for this one catch-up).
    # Ranges beyond RAW_RETENTION_HOURS read these.
    from django.test import override_settings
    from django.utils import timezone

    from metrics.history import RANGES
    from metrics.rollups import roll_up

    started = time.perf_counter()
    with override_settings(RAW_RETENTION_HOURS=args.days * 24 + 1):
        read = roll_up(timezone.now() + timedelta(minutes=5))
    print(f"rolled up {read:,} samples into tiers {settings.ROLLUP_TIERS} in {time.perf_counter() - started:.0f} s")
    name = few[0].name
    for range_key in RANGES:
        url = f"/hosts/{name}/history/?range={range_key}"
        p50, p95, queries = timed(client, url, max(5, args.repeat // 4))
        points = len(client.get(url).json()["timestamps"])
        results.append((f"chart data {range_key}, {points} points", p50, p95, queries))
    p50, p95, queries = timed(client, f"/hosts/{name}/?range=30d", max(5, args.repeat // 4))
    results.append(("host page 30d (html + chart data)", p50, p95, queries))

    print(f"{'page':<58} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for label, p50, p95, queries in results:
        print(f"{label:<58} {p50:>8.1f} {p95:>8.1f} {queries:>8}")
    print(f"{'push (server side: consumers render and send)':<58} {'p50 ms':>8} {'p95 ms':>8}")
    for label, p50, p95 in pushes:
        print(f"{label:<58} {p50:>8.2f} {p95:>8.2f}")


def count_hosts() -> int:
    from hosts.models import Host

    return Host.objects.count()


if __name__ == "__main__":
    main()
