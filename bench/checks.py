"""Benchmark of the hub's check runner: N HTTP checks at a 60 s interval against a local server.

The embedded default: SQLite, one worker calling checks.scheduler.run_due() every
CHECK_SCHEDULER_SECONDS (as the beat job does). Measures schedule lag (how late each run
starts after its next_run_at), the worker's CPU per check run and RSS, and database bytes
per check-day, extrapolated to 90 days with rollups. Usage:

    .venv/bin/python bench/checks.py --checks 1000 --minutes 4
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
DATA_DIR = tempfile.mkdtemp(prefix="statusdash-bench-checks-")
os.environ.update({"DATA_DIR": DATA_DIR, "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from checks import scheduler  # noqa: E402
from checks.models import Check, CheckResult, CheckRollup  # noqa: E402
from metrics.rollups import roll_up  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


def table_bytes(name: str) -> int:
    with connection.cursor() as cursor:
        # The table and its indexes.
        cursor.execute(
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = %s)", [name]
        )
        (size,) = cursor.fetchone()
    return int(size or 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=4)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/health"
    now = timezone.now()
    # Spread over the interval, as checks added over time are.
    Check.objects.bulk_create(
        [
            Check(
                name=f"c{i:05d}",
                kind="http",
                target=url,
                interval=60,
                next_run_at=now + timedelta(seconds=60 * i / args.checks),
            )
            for i in range(args.checks)
        ]
    )
    lags: list[float] = []
    original_run = scheduler.runners.run

    def timed_run(check: Check):  # type: ignore[no-untyped-def]
        lags.append((timezone.now() - check.next_run_at).total_seconds())
        return original_run(check)

    cpu_start = time.process_time()
    end = time.monotonic() + args.minutes * 60
    while time.monotonic() < end:
        tick = time.monotonic()
        scheduler.run_checks(scheduler.claim_due(), run=timed_run)
        time.sleep(max(0.0, settings.CHECK_SCHEDULER_SECONDS - (time.monotonic() - tick)))
    cpu = time.process_time() - cpu_start
    wall = args.minutes * 60
    runs = CheckResult.objects.count()
    lags.sort()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"checks {args.checks}, interval 60 s, {args.minutes} min, {runs} runs")
    print(f"lag p50 {statistics.median(lags):.3f} s, p95 {lags[int(0.95 * len(lags)) - 1]:.3f} s, max {lags[-1]:.3f} s")
    print(f"worker CPU {cpu / wall * 100:.1f} % of one core, {cpu / runs * 1000:.2f} ms per check run")
    print(f"worker max RSS {rss_mb:.0f} MB", flush=True)
    roll_up(timezone.now() + timedelta(minutes=1))
    result_bytes = table_bytes("checks_checkresult")
    per_result = result_bytes / runs
    per_rollup = table_bytes("checks_checkrollup") / max(1, CheckRollup.objects.count())
    runs_per_day = 86400 / 60
    raw_days = settings.RAW_RETENTION_HOURS / 24
    rollup_rows_90d = sum(90 * 86400 // step for step, _ in settings.ROLLUP_TIERS)
    storage_90d = per_result * runs_per_day * raw_days + per_rollup * rollup_rows_90d
    print(f"results {per_result:.0f} B/row, {per_result * runs_per_day / 1024:.0f} KiB per check-day raw")
    print(
        f"rollups {per_rollup:.0f} B/row; 90 days per check: {storage_90d / 1024 / 1024:.2f} MB "
        f"({raw_days:.0f} d raw + {rollup_rows_90d} rollup rows over tiers {settings.ROLLUP_TIERS})"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
