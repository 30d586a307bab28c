"""`make run`: the whole system on one machine, one command, Ctrl-C stops it all.

Migrates, ensures the admin user and the local host's agent key, then runs
Daphne (web and WebSockets), a Celery worker with beat, and the local agent.

This process only supervises and imports neither Django nor Celery: with them it held
82 MiB of PSS for the hub's lifetime, without them 10 (docs/benchmarks.md, "Embedded
footprint"). What needs Django runs as `manage.py` commands that exit before the
long-lived processes start.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from agent.config import read_env_file  # standard library only, like this supervisor

BASE_DIR = Path(__file__).resolve().parent.parent


def manage(*args: str, capture: bool = False) -> str:
    """Run one manage.py command to completion; its output goes to the terminal unless captured."""
    result = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        check=True,
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )
    return result.stdout or ""


def wait_for_health(url: str, seconds: float, context: ssl.SSLContext | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def commands(agent_env: Path, port: int, mtls: bool) -> dict[str, list[str]]:
    """The long-lived processes' command lines."""
    python = sys.executable
    web = [python, "-m", "statusdash.lib.server", "-b", "127.0.0.1", "-p", str(port), "statusdash.asgi:application"]
    if mtls:
        # Daphne's own ssl: endpoint cannot check client certificates; statusdash/lib/tls.py can.
        web = [python, "-m", "statusdash.tls_server", "-b", "127.0.0.1", "-p", str(port)]
    return {
        "web": web,
        # One process, beat in a thread of it: the sweeps are light and run one at a time,
        # as they can in a small hub. Prefork with two children and a forked beat held
        # 190 MiB of PSS; this holds 95 (docs/benchmarks.md, "Embedded footprint").
        # The schedule file is CELERY_BEAT_SCHEDULE_FILENAME, celery's default for --schedule.
        "worker": [
            *(python, "-m", "celery", "-A", "statusdash", "worker"),
            *("--pool", "solo", "--beat-thread", "--loglevel", "WARNING"),
        ],
        "agent": [python, "-m", "agent", "run", "--env-file", str(agent_env)],
    }


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")
    try:
        manage("migrate", "--no-input", "-v", "0")
        manage("collectstatic", "--no-input", "-v", "0")
        manage("ensure_admin", "--generate-if-unset")
        agent_env = Path(manage("local_agent", capture=True).strip().splitlines()[-1])
    except subprocess.CalledProcessError as error:
        print(f"statusdash: manage.py {error.cmd[2]} failed; see the output above", file=sys.stderr)
        return 1
    # The agent's env file says where the hub listens and how (settings decide, not this process).
    agent = read_env_file(str(agent_env))  # the agent's own parser, for the agent's own file
    server = urlsplit(agent["SERVER_URL"])
    port, scheme, tls_context = server.port or 5000, server.scheme, None
    mtls = agent.get("MTLS_ENABLED") == "true"
    if mtls:
        tls_context = ssl.create_default_context(cafile=agent["TLS_CA"])
    command = commands(agent_env, port, mtls)
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children["web"] = subprocess.Popen(command["web"], cwd=BASE_DIR)
    if not wait_for_health(f"{scheme}://127.0.0.1:{port}/health", 30, tls_context):
        print("statusdash: the web server did not become healthy; see the output above", file=sys.stderr)
        stopping = True
    else:
        children["worker"] = subprocess.Popen(command["worker"], cwd=BASE_DIR)
        children["agent"] = subprocess.Popen(command["agent"], cwd=BASE_DIR)
        print(
            f"\n  statusdash is running: {scheme}://127.0.0.1:{port}/\n"
            f"  log in as admin (password: STATUS_ADMIN_PASSWORD, or the one printed at first start)\n"
            f"  admin: {scheme}://127.0.0.1:{port}/admin/   API docs: {scheme}://127.0.0.1:{port}/api/docs\n"
            f"  Ctrl-C stops everything.\n",
            flush=True,
        )
    code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"statusdash: {name} exited with {child.returncode}; stopping", file=sys.stderr)
                code, stopping = 1, True
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for child in children.values():
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
