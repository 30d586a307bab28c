"""How fast /status/ renders with hundreds of public components, cold (cache miss) and warm.

    python bench/status_page.py [--services 300] [--hosts 200] [--rounds 5]

Builds a throwaway SQLite database under a temporary DATA_DIR: services and
hosts marked public (plus as many private ones), 90 days of availability rows
each, and a firing alert on every tenth component. Prints the median time of
each step and the ratio of a warm request to a cold one.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="statusdash-bench-")
os.environ.update({"DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")

import django

django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from alerts.models import Alert  # noqa: E402
from hosts.models import Host  # noqa: E402
from services.models import DailyAvailability, PublicHost, ServiceHealth  # noqa: E402
from services.status_page import public_status  # noqa: E402


def up_seconds(component: int, day: int, always_down: bool) -> float:
    """A full day up, except a bad day now and then (or every day a little down, the worst case)."""
    if always_down:
        return 86400 - 100 - component % 300
    return 86400 * 0.97 if (component + day) % 30 == 0 else 86400


def populate(services: int, hosts: int, always_down: bool) -> None:
    now = timezone.now()
    days = [now.date() - timedelta(days=n) for n in range(90)]
    rows = []
    for i in range(services * 2):  # half public, half private
        service = ServiceHealth.objects.create(
            name=f"service-{i:04d}", status="healthy", last_check=now, since=now, last_event_at=now, public=i % 2 == 0
        )
        rows += [
            DailyAvailability(service=service, day=d, observed_seconds=86400, up_seconds=up_seconds(i, n, always_down))
            for n, d in enumerate(days)
        ]
        if i % 10 == 0:
            Alert.objects.fire(f"health-{service.name}", subject=service.name, severity="critical", message="down")
    for i in range(hosts * 2):
        host = Host.objects.create(name=f"host-{i:04d}", last_seen=now)
        if i % 2 == 0:
            PublicHost.objects.create(host=host)
        rows += [
            DailyAvailability(host=host, day=d, observed_seconds=86400, up_seconds=up_seconds(i, n, always_down))
            for n, d in enumerate(days)
        ]
        if i % 10 == 0:
            Alert.objects.fire("cpu", host=host, message="cpu high")
    DailyAvailability.objects.bulk_create(rows, batch_size=5000)


def median_ms(step: object, rounds: int, before: object = None) -> float:
    times = []
    for _ in range(rounds):
        if callable(before):
            before()
        started = time.perf_counter()
        step()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=300, help="public services (as many private ones)")
    parser.add_argument("--hosts", type=int, default=200, help="public hosts (as many private ones)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--every-day-down", action="store_true", help="worst case: every day of every component below 99.9%%"
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    populate(args.services, args.hosts, args.every_day_down)
    components = args.services + args.hosts
    client = Client(HTTP_HOST="127.0.0.1")

    context = public_status()
    queries: list[str] = []
    with connection.execute_wrapper(lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)):
        public_status()
    build = median_ms(public_status, args.rounds)
    render = median_ms(lambda: render_to_string("services/status_page.html", context), args.rounds)
    cold = median_ms(lambda: client.get("/status/"), args.rounds, before=cache.clear)
    client.get("/status/")
    warm = median_ms(lambda: client.get("/status/"), args.rounds * 20)
    size = len(client.get("/status/").content)

    shape = "every day below 99.9%" if args.every_day_down else "a bad day in 30"
    print(f"public components: {components} ({args.services} services, {args.hosts} hosts; as many private; {shape})")
    print(f"queries to build the page: {len(queries)}")
    print(f"build context (median):  {build:8.1f} ms")
    print(f"render template (median):{render:8.1f} ms")
    print(f"cold request (median):   {cold:8.1f} ms  ({cold / components * 1000:.0f} us per component)")
    print(f"warm request (median):   {warm:8.2f} ms  (warm/cold = {warm / cold:.4f})")
    print(f"page size: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
