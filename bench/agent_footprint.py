"""Footprint of the statusdash agent beside prometheus-node-exporter, in one run.

    python bench/agent_footprint.py [--count 100] [--spool-used] [--node-exporter PATH]
    python bench/agent_footprint.py --checks 20 [--runs 10000]

The agent runs its real daemon path (Collector.collect + Agent.handle: gzip, one
keep-alive session, spool untouched while the hub answers) back to back, COUNT times,
in a child process, against a sink in another process that answers 202 like the hub.
node_exporter (run directly on a free 127.0.0.1 port, no systemd) is scraped COUNT
times. Reported: RSS at start/middle/end and CPU milliseconds per collection or
scrape (user+system time of the measured process only, not of the sink or scraper).
Goals: agent RSS <= 30 MB, agent CPU <= 0.5x node_exporter's per scrape, no growth.

--checks N runs the same agent twice, with no service checks and with N plugin checks
(monitoring-plugins' check_dummy and check_tcp against a listener on 127.0.0.1, half each)
on the agent's own scheduler and pool, each due again at once, until RUNS runs; it
collects and sends a report (carrying the results) every 0.2 s meanwhile. Reported: RSS
at start (after the first 100 runs)/middle/end, the agent's CPU per run, and the plugins'
own CPU per run (children's time: on the host, not in the agent).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RSS_GOAL_MB = 30.0
CPU_GOAL_RATIO = 0.5

SINK = r"""
import socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        # Headers and body are two writes: without this, Nagle plus delayed ACK = 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def log_message(self, *args):
        pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"accepted": 1, "duplicates": 0}'
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
"""

# Runs in the child: the modules the daemon imports, then COUNT collect+send cycles.
AGENT = r"""
import json, os, sys, time
import agent.cli  # what `python -m agent run` imports first
agent.cli.skip_charset_detection()  # and what its main() does first
from agent.config import Config
from agent.daemon import Agent
from agent.spool import Spool
from agent.transport import Transport

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

url, count, spool_dir, spool_used = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
config = Config(server_url=url, mtls_enabled=False, api_key="bench", spool_dir=spool_dir)
agent = Agent(config, Transport(config), Spool(config.spool_dir, 50_000_000, 3600))
agent.collector.prime()
deadline = time.monotonic() + 3600
if spool_used:  # as after an outage, until the next restart: sqlite3 stays loaded
    report = agent.collector.collect()
    agent.spool.put(report["collected_at"], b"{}")
    agent.spool.delete([row_id for row_id, _ in agent.spool.oldest(1, 10**6)])
rss = {}
agent.handle(agent.collector.collect(), deadline)  # warm-up: connection, caches
rss["start"] = rss_mb()
cpu0 = os.times()
for n in range(1, count + 1):
    agent.handle(agent.collector.collect(), deadline)
    if n == count // 2:
        rss["middle"] = rss_mb()
cpu1 = os.times()
rss["end"] = rss_mb()
cpu_ms = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) * 1000 / count
assert len(agent.spool) == 0, "the sink refused reports"
print(json.dumps({"rss": rss, "cpu_ms": cpu_ms}))
"""


# Runs in the child: the daemon with N plugin checks, until RUNS runs (argv: url, checks, runs, port, spool).
AGENT_WITH_CHECKS = r"""
import json, os, sys, threading, time
import agent.cli
agent.cli.skip_charset_detection()  # as main() does first
from agent import probes
from agent.config import Config
from agent.daemon import Agent
from agent.service_checks import ServiceChecks
from agent.spool import Spool
from agent.transport import Transport

PLUGINS = "/usr/lib/nagios/plugins"

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

url, count, runs, port, spool_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
config = Config(server_url=url, mtls_enabled=False, api_key="bench", spool_dir=spool_dir)
transport = Transport(config)
done = [0]
done_lock = threading.Lock()
def counted(check, dirs):
    result = probes.probe(check, dirs)
    with done_lock:
        done[0] += 1
    return result
checks = ServiceChecks(transport.get, [PLUGINS], probe=counted)
agent = Agent(config, transport, Spool(config.spool_dir, 50_000_000, 3600), checks=checks)
agent.collector.prime()
deadline = time.monotonic() + 3600
def plugin(i):
    if i % 2:
        args = ["-H", "127.0.0.1", "-p", port]
        return {"id": i + 1, "name": f"tcp{i}", "kind": "plugin", "target": PLUGINS + "/check_tcp",
                "interval": 0.001, "timeout": 5.0, "options": {"args": args}}
    return {"id": i + 1, "name": f"dummy{i}", "kind": "plugin", "target": PLUGINS + "/check_dummy",
            "interval": 0.001, "timeout": 5.0, "options": {"args": ["0", "fine"]}}
rss, states = {}, {}
cpu0, marks = None, {}
if count:
    checks.replace({i + 1: plugin(i) for i in range(count)})  # as a refresh from the hub would
reports = 0
started = time.monotonic()
while True:
    time.sleep(0.2)
    report = agent.with_check_results(agent.collector.collect())
    for result in report.get("checks", []):
        states[result["state"]] = states.get(result["state"], 0) + 1
    agent.handle(report, deadline)
    reports += 1
    n = done[0] if count else reports * 50
    if cpu0 is None and n >= min(100, runs // 10):
        rss["start"], cpu0, n0 = rss_mb(), os.times(), n
    if cpu0 is not None and "middle" not in rss and n >= runs // 2:
        rss["middle"] = rss_mb()
    if n >= runs:
        break
cpu1 = os.times()
rss["end"] = rss_mb()
checks.close()
own = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) * 1000
children = ((cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)) * 1000
assert len(agent.spool) == 0, "the sink refused reports"
print(json.dumps({"rss": rss, "runs": n - n0, "reports": reports, "own_ms": own, "children_ms": children,
                  "states": states, "seconds": time.monotonic() - started}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def bench_agent(count: int, python: str, spool_used: bool) -> dict:
    port = free_port()
    sink = subprocess.Popen([python, "-c", SINK, str(port)])
    try:
        wait_listening(port)
        with tempfile.TemporaryDirectory() as spool_dir:
            out = subprocess.run(
                [python, "-c", AGENT, f"http://127.0.0.1:{port}", str(count), spool_dir, str(int(spool_used))],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            )
        return json.loads(out.stdout)
    finally:
        sink.terminate()
        sink.wait()


def bench_agent_with_checks(count: int, runs: int, python: str) -> dict:
    port = free_port()
    sink = subprocess.Popen([python, "-c", SINK, str(port)])
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)  # what check_tcp connects to
    stop = False

    def accept() -> None:
        while not stop:
            try:
                listener.accept()[0].close()
            except OSError:
                return

    import threading

    threading.Thread(target=accept, daemon=True).start()
    try:
        wait_listening(port)
        with tempfile.TemporaryDirectory() as spool_dir:
            out = subprocess.run(
                [
                    python,
                    "-c",
                    AGENT_WITH_CHECKS,
                    f"http://127.0.0.1:{port}",
                    str(count),
                    str(runs),
                    str(listener.getsockname()[1]),
                    spool_dir,
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
            )
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        return json.loads(out.stdout)
    finally:
        stop = True
        listener.close()
        sink.terminate()
        sink.wait()


def checks_main(args: argparse.Namespace) -> int:
    print(
        f"machine: nproc={os.cpu_count()}, {' '.join(platform.uname()[i] for i in (0, 2, 4))}, "
        f"python {platform.python_version()}; {args.checks} plugin checks, {args.runs} runs"
    )
    none = bench_agent_with_checks(0, args.runs, args.python)
    some = bench_agent_with_checks(args.checks, args.runs, args.python)
    print(f"{'':34}{'RSS start':>10}{'middle':>9}{'end':>9}{'agent CPU':>11}{'plugin CPU':>12}")
    for name, r, per in (
        ("agent, no checks (per report)", none, none["reports"]),
        (f"agent, {args.checks} plugin checks (per run)", some, some["runs"]),
    ):
        rss = r["rss"]
        print(
            f"{name:34}{rss['start']:>8.1f}MB{rss['middle']:>7.1f}MB{rss['end']:>7.1f}MB"
            f"{r['own_ms'] / per:>9.2f}ms{r['children_ms'] / per:>10.2f}ms"
        )
    per_run = some["own_ms"] / some["runs"]
    print(f"results by state: {some['states']}; {some['runs']} runs in {some['seconds']:.0f} s")
    print(
        f"agent CPU for {args.checks} checks every 60 s: {per_run * args.checks / 60:.3f} ms per second "
        f"({per_run * args.checks / 600:.4f} % of a core)"
    )
    growth = some["rss"]["end"] - some["rss"]["start"]
    ok = some["rss"]["end"] <= RSS_GOAL_MB
    print(f"agent RSS end {some['rss']['end']:.1f} MB (goal <= {RSS_GOAL_MB:.0f} MB): {'met' if ok else 'MISSED'}")
    print(f"agent RSS growth start->end over {some['runs']} runs: {growth:+.2f} MB")
    return 0 if ok else 1


def bench_node_exporter(count: int, binary: str) -> dict:
    import requests

    port = free_port()
    exporter = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(port)
        session = requests.Session()
        url = f"http://127.0.0.1:{port}/metrics"
        session.get(url, timeout=30).raise_for_status()  # warm-up, like the agent's
        rss = {"start": proc_rss_mb(exporter.pid)}
        cpu0 = proc_cpu_seconds(exporter.pid)
        for n in range(1, count + 1):
            session.get(url, timeout=30).raise_for_status()
            if n == count // 2:
                rss["middle"] = proc_rss_mb(exporter.pid)
        cpu1 = proc_cpu_seconds(exporter.pid)
        rss["end"] = proc_rss_mb(exporter.pid)
        return {"rss": rss, "cpu_ms": (cpu1 - cpu0) * 1000 / count}
    finally:
        exporter.terminate()
        exporter.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100, help="collections and scrapes (default 100)")
    parser.add_argument("--python", default=sys.executable, help="Python with psutil and requests")
    parser.add_argument(
        "--spool-used",
        action="store_true",
        help="measure the agent as after an outage (sqlite3 loaded until the next restart)",
    )
    parser.add_argument("--node-exporter", default=shutil.which("prometheus-node-exporter") or "")
    parser.add_argument("--checks", type=int, default=0, help="run the agent with this many plugin checks")
    parser.add_argument("--runs", type=int, default=10000, help="check runs with --checks (default 10000)")
    args = parser.parse_args()
    if args.checks:
        return checks_main(args)

    print(
        f"machine: nproc={os.cpu_count()}, {' '.join(platform.uname()[i] for i in (0, 2, 4))}, "
        f"python {platform.python_version()}; count={args.count}; spool used: {args.spool_used}"
    )
    agent = bench_agent(args.count, args.python, args.spool_used)
    rows = [("statusdash agent (collect+send)", agent)]
    exporter = None
    if args.node_exporter:
        exporter = bench_node_exporter(args.count, args.node_exporter)
        rows.append(("node_exporter (scrape)", exporter))
    else:
        print("prometheus-node-exporter not found: apt-get install -y prometheus-node-exporter")

    print(f"{'':34}{'RSS start':>10}{'middle':>9}{'end':>9}{'CPU ms/op':>11}")
    for name, r in rows:
        rss = r["rss"]
        print(f"{name:34}{rss['start']:>8.1f}MB{rss['middle']:>7.1f}MB{rss['end']:>7.1f}MB{r['cpu_ms']:>11.2f}")

    growth = agent["rss"]["end"] - agent["rss"]["start"]
    ok = agent["rss"]["end"] <= RSS_GOAL_MB
    print(f"agent RSS end {agent['rss']['end']:.1f} MB (goal <= {RSS_GOAL_MB:.0f} MB): {'met' if ok else 'MISSED'}")
    print(f"agent RSS growth start->end over {args.count} collections: {growth:+.2f} MB")
    if exporter:
        ratio = agent["cpu_ms"] / exporter["cpu_ms"]
        rss_ratio = agent["rss"]["end"] / exporter["rss"]["end"]
        print(
            f"CPU ratio agent/node_exporter: {ratio:.2f} (goal <= {CPU_GOAL_RATIO}): "
            f"{'met' if ratio <= CPU_GOAL_RATIO else 'MISSED'}"
        )
        print(f"RSS ratio agent/node_exporter: {rss_ratio:.2f}")
        ok = ok and ratio <= CPU_GOAL_RATIO
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
