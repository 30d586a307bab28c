"""What mutual TLS costs per report, against plain HTTP with an API key in the same run.

    .venv/bin/python bench/mtls.py --reports 300

Starts two hubs sharing one fresh SQLite database under a temporary DATA_DIR:
plain Daphne (API key) and statusdash.tls_server (client certificate). One client
sends reports one after another in four phases:
  plain keep-alive    API key, one connection
  mtls keep-alive     client certificate, one TLS connection (handshake once)
  plain new conn      API key, a new connection per report
  mtls new conn       client certificate, a full TLS handshake per report
and prints the median and p99 latency of each, and mtls/plain ratios. Then the
in-process cost of the identity check alone (signature + CA + revocation lookup).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def timed_reports(url: str, count: int, keep_alive: bool, **request_args: Any) -> list[float]:
    from statusdash.tests.support import sample_report

    session = requests.Session()
    clock = datetime.now(UTC) - timedelta(hours=2)
    latencies = []
    for _ in range(count):
        clock += timedelta(seconds=1)
        if not keep_alive:
            session.close()
            session = requests.Session()
        started = time.perf_counter()
        response = session.post(
            f"{url}/api/metrics/report", json=sample_report(clock, host="bench-1"), timeout=30, **request_args
        )
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 202:
            raise SystemExit(f"{url}: HTTP {response.status_code}: {response.text}")
    return latencies


def summary(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=300, help="reports per phase")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="statusdash-bench-mtls-"))
    os.environ.update(
        DATA_DIR=str(data_dir), ENV_FILE=str(data_dir / "none"), LOG_LEVEL="WARNING", REDIS_URL="", MTLS_ENABLED="false"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from hosts import pki, vault
    from hosts.models import ApiKey, ApiKeyScope, Certificate, Host
    from hosts.tests.conftest import tls_daphne
    from statusdash.tests.support import daphne_server

    call_command("migrate", verbosity=0)
    host = Host.objects.create(name="bench-1")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    vault.ensure_ca()
    vault.ensure_server_certificate()
    cert, client_key = vault.ensure_client_files(host)
    ca = str(pki.ca_paths()[0])
    env = {"DATA_DIR": str(data_dir), "ENV_FILE": str(data_dir / "none"), "LOG_LEVEL": "WARNING", "REDIS_URL": ""}

    with (
        daphne_server(env={**env, "MTLS_ENABLED": "false"}) as plain,
        tls_daphne({**env, "MTLS_ENABLED": "true"}, Path(ca)) as mtls,
    ):
        auth = {"headers": {"Authorization": f"Bearer {key}"}}
        tls = {"cert": (str(cert), str(client_key)), "verify": ca}
        timed_reports(plain, 20, True, **auth)  # warm both servers up
        timed_reports(mtls, 20, True, **tls)
        phases = {
            "plain keep-alive": timed_reports(plain, args.reports, True, **auth),
            "mtls keep-alive": timed_reports(mtls, args.reports, True, **tls),
            "plain new conn": timed_reports(plain, args.reports, False, **auth),
            "mtls new conn": timed_reports(mtls, args.reports, False, **tls),
        }
    print(f"{'phase':<18} {'p50 ms':>8} {'p99 ms':>8}")
    medians = {}
    for name, latencies in phases.items():
        p50, p99 = summary(latencies)
        medians[name] = p50
        print(f"{name:<18} {p50:>8.2f} {p99:>8.2f}")
    print(f"mtls/plain p50, keep-alive: {medians['mtls keep-alive'] / medians['plain keep-alive']:.2f}")
    print(f"mtls/plain p50, new conn:   {medians['mtls new conn'] / medians['plain new conn']:.2f}")

    from hosts.identity import certificate_identity

    certificate = pki.load_certificate(Path(cert).read_bytes())
    for label, check in (
        ("full check (CA signature, validity, revocation row)", Certificate.objects.check_client),
        ("cached identity (AUTH_CACHE_SECONDS)", certificate_identity),
    ):
        rounds = 2000
        started = time.perf_counter()
        for _ in range(rounds):
            check(certificate)
        print(f"{label}: {(time.perf_counter() - started) / rounds * 1e6:.0f} us per report")
    subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    main()
