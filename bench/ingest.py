"""Ingest throughput: N simulated agents against a real Daphne, compared with the same
server's no-database endpoint (the framework's ceiling) in the same run.

    .venv/bin/python bench/ingest.py --agents 20 --seconds 15

Starts its own hub on a free port with a fresh SQLite database (or DATABASE_URL if set),
creates one host and agent key per simulated agent, then runs two phases of equal length:
  ceiling: POST /api/metrics/validate (parse + validate, no database, no auth)
  ingest:  POST /api/metrics/report   (auth, validate, store, cache, live push)
Each agent is a thread with its own keep-alive session; clients run in 2 processes.
With --rounds N the phases alternate N times (each slice seconds/N long), so load from
elsewhere on a shared machine falls on both phases alike.
Prints requests/s, p50/p99 latency, errors, 'database is locked' count, rows stored
(must equal the number of 202 answers), and ingest/ceiling. On PostgreSQL it also prints
the most connections the database had open during each phase (pg_stat_activity, sampled
every 50 ms, the sampler's own connection not counted) and, when the server runs on this
machine, the CPU time of those backends per request (the database's share of the work,
which SQLite does inside the hub's process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from statusdash.tests.support import daphne_server, sample_report  # noqa: E402


def agent_loop(url: str, key: str, host: str, deadline: float, batch_every: int, out: list[Any]) -> None:
    session = requests.Session()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    template = sample_report(host=host, seed=hash(host) & 0xFFFF)
    sent = 0
    # Reports at least 10 ms apart and at most a second old: unique, never in the future, and
    # recent enough that the hub evaluates its alert rules on them, as it does for a live agent
    # (a minute behind, as they once were, is past the horizon: evaluation stopped at its start).
    clock = datetime.now(UTC) - timedelta(minutes=1)
    while time.perf_counter() < deadline:
        sent += 1
        count = 10 if batch_every and sent % batch_every == 0 else 1
        reports = []
        for _ in range(count):
            clock = max(clock + timedelta(milliseconds=10), datetime.now(UTC) - timedelta(seconds=1))
            report = dict(template)
            report["collected_at"] = clock.isoformat()
            reports.append(report)
        body = json.dumps({"reports": reports} if count > 1 else reports[0])
        started = time.perf_counter()
        try:
            response = session.post(url, data=body, headers=headers, timeout=30)
            status, text = response.status_code, response.text if response.status_code >= 300 else ""
        except requests.RequestException as error:
            status, text = 0, str(error)
        out.append((time.perf_counter() - started, status, count, text[:200]))


def client_process(url: str, agents: list[tuple[str, str]], seconds: float, batch_every: int, queue: Any) -> None:
    deadline = time.perf_counter() + seconds
    results: list[Any] = []
    threads = [
        threading.Thread(target=agent_loop, args=(url, key, host, deadline, batch_every, results))
        for host, key in agents
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_slice(url: str, agents: list[tuple[str, str]], seconds: float, batch_every: int, pid: int) -> dict[str, Any]:
    """Every agent posting to `url` for `seconds`: the answers, the time taken, the server's CPU."""
    queue: Any = multiprocessing.Queue()
    halves = [agents[0::2], agents[1::2]]
    procs = [
        multiprocessing.Process(target=client_process, args=(url, half, seconds, batch_every, queue))
        for half in halves
        if half
    ]
    started, cpu_before = time.perf_counter(), cpu_seconds(pid)
    for proc in procs:
        proc.start()
    results = [item for _ in procs for item in queue.get()]
    for proc in procs:
        proc.join()
    return {"results": results, "elapsed": time.perf_counter() - started, "cpu": cpu_seconds(pid) - cpu_before}


def summarize(slices: list[dict[str, Any]]) -> dict[str, Any]:
    results = [r for piece in slices for r in piece["results"]]
    elapsed = sum(piece["elapsed"] for piece in slices)
    server_cpu = sum(piece["cpu"] for piece in slices)
    latencies = sorted(r[0] for r in results)
    ok = [r for r in results if 200 <= r[1] < 300]
    errors = [r for r in results if not 200 <= r[1] < 300]
    return {
        "requests": len(results),
        "per_s": len(results) / elapsed,
        "server_cpu_ms": server_cpu * 1000 / max(1, len(results)),
        "reports_ok": sum(r[2] for r in ok),
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0,
        "errors": len(errors),
        "server_errors": sum(1 for r in errors if r[1] >= 500),
        "locked": sum(1 for r in errors if "locked" in r[3]),
        "error_samples": sorted({f"{r[1]} {r[3][:80]}" for r in errors})[:5],
    }


class PostgresWatch:
    """During one phase, in a thread: the most backends connected to the database, and (when
    the server runs on this machine) the CPU time those backends used."""

    def __init__(self, database_url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(database_url, autocommit=True)
        self.peak = 0
        self._cpu: dict[int, tuple[float, float]] = {}  # backend pid: (CPU when first seen, CPU now)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        first = True
        while not self._stop.is_set():
            pids = [row[0] for row in self.connection.execute(query).fetchall()]
            self.peak = max(self.peak, len(pids))
            for pid in pids:
                with contextlib.suppress(OSError):
                    now = cpu_seconds(pid)
                    # A backend already there when the phase began counts from then; a new one from its start.
                    self._cpu[pid] = (self._cpu.get(pid, (now if first else 0.0, 0.0))[0], now)
            first = False
            self._stop.wait(0.05)

    def cpu_seconds(self) -> float | None:
        """CPU time the database's backends used during the phase; None if /proc cannot show them."""
        return sum(now - start for start, now in self._cpu.values()) if self._cpu else None

    def __enter__(self) -> PostgresWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.connection.close()


def watch_postgres(database_url: str) -> PostgresWatch | contextlib.nullcontext[None]:
    return PostgresWatch(database_url) if database_url.startswith("postgres") else contextlib.nullcontext()


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--batch-every", type=int, default=0, help="every Nth request is a batch of 10 reports")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the two phases this many times (each slice seconds/rounds)"
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    engine = "postgresql" if database_url.startswith("postgres") else "sqlite"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "DATA_DIR": data_dir,
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "statusdash.settings",
        }
        manage(env, "migrate", "-v0")
        agents = []
        for i in range(args.agents):
            host = f"bench-{i:03d}"
            agents.append((host, manage(env, "apikey", "create", "--host", host).strip().splitlines()[-1]))
        # Counted before and after, so a PostgreSQL database used before still gives this run's rows.
        rows_before = stored_rows(env)
        phases = {
            "ceiling": ("/api/metrics/validate", [(h, "") for h, _ in agents]),
            "ingest": ("/api/metrics/report", agents),
        }
        slices: dict[str, list[dict[str, Any]]] = {name: [] for name in phases}
        watches: dict[str, list[PostgresWatch]] = {name: [] for name in phases}
        with daphne_server(env=env) as base:
            # Phases alternate in `rounds` slices, so a neighbour's load on this shared machine
            # falls on both alike rather than on one of them.
            for _ in range(args.rounds):
                for name, (path, clients) in phases.items():
                    with watch_postgres(database_url) as watch:
                        piece = run_slice(
                            f"{base}{path}", clients, args.seconds / args.rounds, args.batch_every, base.pid
                        )
                    slices[name].append(piece)
                    if watch:
                        watches[name].append(watch)
        rows = stored_rows(env) - rows_before
    ceiling, ingest = summarize(slices["ceiling"]), summarize(slices["ingest"])

    watched = bool(watches["ingest"])
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, database {engine}")
    print(f"agents={args.agents} seconds={args.seconds} rounds={args.rounds} batch_every={args.batch_every}")
    print(
        f"{'phase':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'5xx':>5} {'locked':>7} {'reports':>8}"
        f" {'server CPU ms/req':>18}" + (f" {'PG CPU ms/req':>14} {'PG connections':>15}" if watched else "")
    )
    peaks = {name: max((watch.peak for watch in watches[name]), default=0) for name in phases}
    for name, phase in (("ceiling", ceiling), ("ingest", ingest)):
        postgres = ""
        if watched:
            cpus = [watch.cpu_seconds() for watch in watches[name]]
            known = [cpu for cpu in cpus if cpu is not None]
            per_request = f"{sum(known) * 1000 / max(1, phase['requests']):.2f}" if len(known) == len(cpus) else "n/a"
            postgres = f" {per_request:>14} {peaks[name]:>15}"
        print(
            f"{name:<8} {phase['per_s']:>8.1f} {phase['p50_ms']:>8.1f} {phase['p99_ms']:>8.1f} "
            f"{phase['errors']:>7} {phase['server_errors']:>5} {phase['locked']:>7} {phase['reports_ok']:>8}"
            f" {phase['server_cpu_ms']:>18.2f}{postgres}"
        )
        for sample in phase["error_samples"]:
            print(f"    {sample}")
    print(
        f"rows stored: {rows} (reports answered 2xx: {ingest['reports_ok']}; lost or extra: {rows - ingest['reports_ok']})"
    )
    if watched:
        print(f"PostgreSQL connections to the database, peak during ingest: {peaks['ingest']}")
    print(f"ingest/ceiling: {ingest['per_s'] / ceiling['per_s']:.2f}")


def stored_rows(env: dict[str, str]) -> int:
    code = "import django; django.setup(); from metrics.models import MetricSample; print(MetricSample.objects.count())"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    )
    return int(result.stdout)


if __name__ == "__main__":
    main()
