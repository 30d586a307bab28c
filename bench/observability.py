"""What the hub's own metrics cost: the per-request hooks, and a /metrics scrape by fleet size.

    .venv/bin/python bench/observability.py --hosts 10 100 1000 --processes 1 16

In-process, against a fresh SQLite database under a temporary DATA_DIR:
  hooks:  record_ingest() and the per-request log line, in microseconds per call, next to
          one ingest request through Django (Client().post of a report) in the same run
  scrape: GET /metrics (auth, every process's counter files, each host's latest values
          from the cache) for N hosts, and with the counter files of P processes
Prints medians; ratios within the run are what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def median_ms(function: Any, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def per_call_us(function: Any, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="statusdash-bench-")
    os.environ.update({"DATA_DIR": data_dir, "REDIS_URL": "", "DATABASE_URL": "", "LOG_LEVEL": "WARNING"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from hosts.models import ApiKey, ApiKeyScope, Host
    from metrics import latest
    from metrics.models import MetricSample
    from metrics.schemas import ReportIn
    from statusdash.api import logged_api_view
    from statusdash.lib import observability
    from statusdash.lib.logfmt import KeyValueFormatter
    from statusdash.tests.support import sample_report

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client(HTTP_HOST="127.0.0.1")  # outside pytest, 'testserver' is not an allowed host
    _, read_key = ApiKey.issue(ApiKeyScope.READ, label="bench")
    host = Host.objects.create(name="bench-0")
    _, agent_key = ApiKey.issue(ApiKeyScope.AGENT, host=host)

    # --- hooks
    request_log = logging.getLogger("statusdash.request")
    request_log.setLevel(logging.INFO)
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the run)
    handler.setFormatter(KeyValueFormatter())
    request_log.addHandler(handler)
    request_log.propagate = False
    record_us = per_call_us(lambda: observability.record_ingest(1, 0, 0.004), 20000)
    wrapped = logged_api_view(lambda request: type("R", (), {"status_code": 202})())
    fake = type("Req", (), {"path": "/api/metrics/report", "method": "POST", "auth": None})()
    log_us = per_call_us(lambda: wrapped(fake), 20000)
    clock = [0]
    start = datetime.now(UTC)

    def ingest() -> None:
        clock[0] += 1
        report = sample_report(start - timedelta(seconds=clock[0]), seed=clock[0])
        response = client.post(
            "/api/metrics/report",
            json.dumps(report),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {agent_key}",
        )
        assert response.status_code == 202, response.content

    ingest_ms = median_ms(ingest, 200)
    print(f"hooks: record_ingest {record_us:.1f} us, request log line {log_us:.1f} us;")
    print(
        f"       one ingest request in-process {ingest_ms:.2f} ms; hooks share "
        f"{(record_us + log_us) / 1000 / ingest_ms:.1%}"
    )

    # --- scrape by fleet size
    def scrape() -> None:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {read_key}")
        assert response.status_code == 200
        scrape.size = len(response.content)  # type: ignore[attr-defined]

    made = 1
    report = ReportIn.model_validate(sample_report(seed=1)).model_dump()
    print("\nhosts  processes  scrape ms (median)  bytes")
    for count in sorted(args.hosts):
        for index in range(made, count):
            other = Host.objects.create(name=f"bench-{index}")
            stored, _ = MetricSample.store_reports(other, [report])
            latest.remember(stored[0])
        made = max(made, count)
        for processes in sorted(args.processes):
            # Counter files of other processes, as Daphne replicas and Celery workers leave them.
            for index in range(processes - 1):
                observability._identifiers[os.getpid()] = f"bench-{count}-{index}"
                observability.record_ingest(1, 0, 0.004)
                observability.SWEEP_LAST_SUCCESS.labels("bench").set(time.time())
            observability._identifiers.pop(os.getpid(), None)
            ms = median_ms(scrape, args.repeat)
            print(f"{count:5d}  {processes:9d}  {ms:18.2f}  {scrape.size}")  # type: ignore[attr-defined]
            for path in Path(observability.settings.PROMETHEUS_MULTIPROC_DIR).glob("*bench-*"):
                path.unlink()


if __name__ == "__main__":
    main()
