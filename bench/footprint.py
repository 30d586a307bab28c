"""Memory of the embedded hub (`make run`): PSS per process, idle and with N agents reporting.

    .venv/bin/python bench/footprint.py [--minutes 5] [--agents 20]
    .venv/bin/python bench/footprint.py --compose   # the docker-compose services, started directly

Starts `python -m statusdash.run` as `make run` does (its own DATA_DIR under /tmp, a free
port, 127.0.0.1 only), then samples each process's PSS (/proc/PID/smaps_rollup, summed
over the process and its descendants) labelled supervisor, daphne, worker and agent.
PSS counts a page shared by k processes as 1/k in each, so the figures add up to what
the system really holds. Phases:
  idle:  the hub and its local agent only, for --idle-seconds
  load:  N simulated agents, each with its own host and API key, POSTing a report like
         the agent's (statusdash.tests.support.sample_report) every --interval seconds
The first --warmup-minutes of the load phase are warm-up; the growth printed is the last
sample minus the first after warm-up. Then SIGINT to the supervisor's process group (as
Ctrl-C in a terminal) and a check that every process it started is gone.

--compose measures what docker-compose.yml runs (nginx aside), started directly on this
machine: daphne, a celery worker (prefork, concurrency 2) and a separate celery beat, with
their command lines from the compose file, against a redis-server of its own on a free
port (the compose's redis, same flags). Same SQLite database, same phases.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from statusdash.tests.support import sample_report  # noqa: E402

GOAL_MIB = 200.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pss_kib(pid: int) -> int:
    """The process's proportional set size; 0 if it has gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def subtree(pid: int, children: dict[int, list[int]]) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children.get(current, []))
    return pids


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def label_of(command: str) -> str:
    if "statusdash.lib.server" in command or "statusdash.tls_server" in command:
        return "daphne"
    if " beat" in command and " worker" not in command:
        return "beat"
    if "celery" in command:
        return "worker"
    if "-m agent" in command:
        return "agent"
    if "redis-server" in command:
        return "redis"
    return command[:40]


class Processes:
    """The measured processes: top-level pids, each labelled, with everything they fork."""

    def __init__(self, supervisor: int | None, started: list[int]) -> None:
        self.supervisor = supervisor
        self.started = started
        self.seen: set[int] = set()

    def sample(self) -> dict[str, int]:
        children = children_map()
        roots = list(self.started)
        sizes: Counter[str] = Counter()
        if self.supervisor is not None:
            sizes["supervisor"] = pss_kib(self.supervisor)
            self.seen.add(self.supervisor)
            roots = children.get(self.supervisor, [])
        for root in roots:
            label = label_of(cmdline(root))
            for pid in subtree(root, children):
                self.seen.add(pid)
                sizes[label] += pss_kib(pid)
        return dict(sizes)

    def alive(self) -> list[int]:
        return [pid for pid in self.seen if Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)]


def _state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.lower()
    except (FileNotFoundError, ProcessLookupError):
        pass
    return "zombie"


def wait_healthy(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {seconds:.0f} s")


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def create_keys(env: dict[str, str], count: int) -> list[tuple[str, str]]:
    """One host and agent key each, in one Django process (`apikey create` prints the key last)."""
    code = (
        "import io, django; django.setup()\n"
        "from django.core.management import call_command\n"
        f"for i in range({count}):\n"
        "    out = io.StringIO()\n"
        "    call_command('apikey', 'create', '--host', f'footprint-{i:03d}', stdout=out, stderr=io.StringIO())\n"
        "    print(f'footprint-{i:03d}', out.getvalue().split()[-1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    )
    return [(host, key) for host, key in (line.split() for line in result.stdout.splitlines())]


def agent_loop(
    url: str, host: str, key: str, interval: float, offset: float, stop: threading.Event, out: Counter
) -> None:
    session = requests.Session()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    seed = hash(host) & 0xFFFF
    if stop.wait(offset):
        return
    while True:
        started = time.monotonic()
        report = sample_report(datetime.now(UTC), host=host, seed=seed + int(started))
        try:
            status = session.post(url, json=report, headers=headers, timeout=30).status_code
        except requests.RequestException:
            status = 0
        out[status] += 1
        if stop.wait(max(0.0, interval - (time.monotonic() - started))):
            return


def mib(kib: int) -> float:
    return kib / 1024


def print_sample(phase: str, elapsed: float, sizes: dict[str, int], labels: list[str], hub: list[str]) -> None:
    total = sum(sizes.get(label, 0) for label in hub)
    cells = "".join(f"{mib(sizes.get(label, 0)):>11.1f}" for label in labels)
    print(f"{phase:<6}{elapsed:>7.0f}s{cells}{mib(total):>11.1f}", flush=True)


def start_embedded(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], Processes]:
    with log.open("wb") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "statusdash.run"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so SIGINT reaches it as Ctrl-C would
        )
    return supervisor, Processes(supervisor.pid, [])


def start_compose(env: dict[str, str], data_dir: str, log: Path) -> tuple[list[subprocess.Popen[bytes]], Processes]:
    redis_port = free_port()
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "ensure_admin", "--generate-if-unset")
    port = env["STATUS_PORT"]
    python = sys.executable
    commands = [
        # docker-compose.yml's redis, web, worker and beat commands (web bound to loopback here).
        [
            *(shutil.which("redis-server") or "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"),
        ],
        [python, "-m", "statusdash.lib.server", "-b", "127.0.0.1", "-p", port, "statusdash.asgi:application"],
        [python, "-m", "celery", "-A", "statusdash", "worker", "--loglevel", "INFO", "--concurrency", "2"],
        [
            *(python, "-m", "celery", "-A", "statusdash", "beat", "--loglevel", "INFO"),
            *("--schedule", f"{data_dir}/celerybeat-schedule"),
        ],
    ]
    processes = []
    with log.open("wb") as out:
        for command in commands:
            processes.append(subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT))
            if command[0].endswith("redis-server"):
                time.sleep(0.5)
    return processes, Processes(None, [p.pid for p in processes])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5, help="length of the load phase (default 5)")
    parser.add_argument("--warmup-minutes", type=float, default=1, help="start of the load phase not judged")
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--interval", type=float, default=10, help="seconds between one agent's reports")
    parser.add_argument("--sample-seconds", type=float, default=15)
    parser.add_argument("--compose", action="store_true", help="the docker-compose services instead of make run")
    args = parser.parse_args()

    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    print(
        f"machine: nproc={os.cpu_count()}, {mem_gib:.0f} GiB, {platform.system()} {platform.release()}, "
        f"python {platform.python_version()}; agents={args.agents} every {args.interval:g} s, "
        f"load {args.minutes:g} min (warm-up {args.warmup_minutes:g}), "
        f"{'docker-compose services started directly' if args.compose else 'make run (statusdash.run)'}"
    )
    with tempfile.TemporaryDirectory(prefix="footprint-", dir="/tmp") as data_dir:
        port = free_port()
        env = {
            **os.environ,
            "DATA_DIR": data_dir,
            "STATUS_PORT": str(port),
            "ENV_FILE": str(Path(data_dir) / "no.env"),  # never the checkout's .env
            "DJANGO_SETTINGS_MODULE": "statusdash.settings",
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        log = Path(data_dir) / "hub.log"
        supervisor: subprocess.Popen[bytes] | None = None
        started: list[subprocess.Popen[bytes]] = []
        if args.compose:
            started, processes = start_compose(env, data_dir, log)
            labels = ["daphne", "worker", "beat", "redis"]
            hub = labels
        else:
            supervisor, processes = start_embedded(env, log)
            labels = ["supervisor", "daphne", "worker", "agent"]
            hub = ["supervisor", "daphne", "worker"]
        base = f"http://127.0.0.1:{port}"
        stop = threading.Event()
        statuses: Counter[int] = Counter()
        threads: list[threading.Thread] = []
        samples: list[tuple[str, float, dict[str, int]]] = []
        try:
            wait_healthy(f"{base}/health", 90)
            if supervisor is not None:
                deadline = time.monotonic() + 30
                while "Ctrl-C stops" not in log.read_text() and time.monotonic() < deadline:
                    time.sleep(0.5)
                print("make run printed:\n" + log.read_text().rstrip())
            time.sleep(5)  # the worker and beat finish starting
            header = "".join(f"{label:>11}" for label in labels)
            print(f"\nPSS MiB{'':6}{header}{'hub':>11}   (hub: {' + '.join(hub)})")
            began = time.monotonic()
            while time.monotonic() - began < args.idle_seconds:
                samples.append(("idle", time.monotonic() - began, processes.sample()))
                print_sample(*samples[-1], labels, hub)
                time.sleep(args.sample_seconds)
            agents = create_keys(env, args.agents)
            began = time.monotonic()
            for n, (host, key) in enumerate(agents):
                offset = args.interval * n / len(agents)  # spread over the interval, as real agents are
                thread = threading.Thread(
                    target=agent_loop,
                    args=(f"{base}/api/metrics/report", host, key, args.interval, offset, stop, statuses),
                    daemon=True,
                )
                thread.start()
                threads.append(thread)
            while True:
                elapsed = time.monotonic() - began
                samples.append(("load", elapsed, processes.sample()))
                print_sample(*samples[-1], labels, hub)
                if elapsed >= args.minutes * 60:
                    break
                time.sleep(min(args.sample_seconds, max(0.0, args.minutes * 60 - elapsed)))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=35)
            if supervisor is not None:
                os.killpg(supervisor.pid, signal.SIGINT)
                supervisor.wait(timeout=30)
            for process in started:
                process.send_signal(signal.SIGTERM)
            for process in started:
                process.wait(timeout=30)
        time.sleep(1)
        left = processes.alive()

    def hub_mib(sizes: dict[str, int]) -> float:
        return mib(sum(sizes.get(label, 0) for label in hub))

    idle = [s for s in samples if s[0] == "idle"]
    load = [s for s in samples if s[0] == "load"]
    warm = [s for s in load if s[1] >= args.warmup_minutes * 60] or load[-1:]
    first, last = warm[0][2], load[-1][2]
    print(f"\nreports: {sum(statuses.values())} sent, answers {dict(sorted(statuses.items()))}")
    print(f"{'':12}" + "".join(f"{label:>11}" for label in labels) + f"{'hub':>11}")
    for name, sizes in (("idle (last)", idle[-1][2]), ("after warm-up", first), ("end", last)):
        print(f"{name:<12}" + "".join(f"{mib(sizes.get(x, 0)):>11.1f}" for x in labels) + f"{hub_mib(sizes):>11.1f}")
    growth = "".join(f"{mib(last.get(x, 0) - first.get(x, 0)):>+11.1f}" for x in labels)
    print(f"{'growth':<12}{growth}{hub_mib(last) - hub_mib(first):>+11.1f}")
    peak = max(hub_mib(s[2]) for s in load)
    print(f"hub peak {peak:.1f} MiB under load (goal <= {GOAL_MIB:.0f} MiB for make run)")
    print(f"after SIGINT: {len(left)} of {len(processes.seen)} processes left {left if left else ''}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
