"""Footprint of the statusdash agent beside prometheus-node-exporter, in one run.

    python bench/agent_footprint.py [--count 100] [--spool-used] [--node-exporter PATH]

The agent runs its real daemon path (Collector.collect + Agent.handle: gzip, one
keep-alive session, spool untouched while the hub answers) back to back, COUNT times,
in a child process, against a sink in another process that answers 202 like the hub.
node_exporter (run directly on a free 127.0.0.1 port, no systemd) is scraped COUNT
times. Reported: RSS at start/middle/end and CPU milliseconds per collection or
scrape (user+system time of the measured process only, not of the sink or scraper).
Goals: agent RSS <= 30 MB, agent CPU <= 0.5x node_exporter's per scrape, no growth.
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
    args = parser.parse_args()

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
