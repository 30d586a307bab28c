"""`make run`: the whole system on one machine, one command, Ctrl-C stops it all.

Migrates, ensures the admin user and the local host's agent key, then runs
Daphne (web and WebSockets), a Celery worker with beat, and the local agent.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")


def local_host_name() -> str:
    name = re.sub(r"[^a-z0-9.-]", "-", socket.gethostname().lower()).strip("-.")[:63]
    return name or "localhost"


def ensure_local_agent_env(data_dir: Path, port: int, mtls: bool = False) -> Path:
    """An env file for the local agent with a valid agent key, reused across restarts."""
    from hosts.management.commands.apikey import ensure_host
    from hosts.models import ApiKey, ApiKeyScope

    env_path = data_dir / "agent" / "local.env"
    env_path.parent.mkdir(parents=True, exist_ok=True)
    host = ensure_host(local_host_name())
    current = {}
    if env_path.exists():
        current = dict(line.split("=", 1) for line in env_path.read_text().splitlines() if "=" in line)
    key = ApiKey.objects.find(current.get("API_KEY", ""))
    raw = current.get("API_KEY", "")
    if key is None or key.is_revoked or key.host_id != host.pk:
        _, raw = ApiKey.issue(ApiKeyScope.AGENT, host=host, label="local agent (make run)")
    lines = {
        "SERVER_URL": f"http://127.0.0.1:{port}",
        "MTLS_ENABLED": "false",
        "API_KEY": raw,
        "REPORT_INTERVAL": "10",
        "SPOOL_DIR": str(data_dir / "agent" / "spool"),
    }
    if mtls:
        # Same port, TLS with client certificates: the local agent gets one from the vault.
        from hosts import pki, vault

        vault.ensure_ca()
        vault.ensure_server_certificate()
        tls_cert, tls_key = vault.ensure_client_files(host)
        lines.update(
            SERVER_URL=f"https://127.0.0.1:{port}",
            MTLS_ENABLED="true",
            TLS_CERT=str(tls_cert),
            TLS_KEY=str(tls_key),
            TLS_CA=str(pki.ca_paths()[0]),
        )
    env_path.touch(mode=0o600)
    env_path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    return env_path


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


def main() -> int:
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("ensure_admin", generate_if_unset=True)
    agent_env = ensure_local_agent_env(settings.DATA_DIR, settings.STATUS_PORT, settings.MTLS_ENABLED)

    python = sys.executable
    port = str(settings.STATUS_PORT)
    web = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", port, "statusdash.asgi:application"]
    scheme, tls_context = "http", None
    if settings.MTLS_ENABLED:
        from hosts import pki

        # Daphne's own ssl: endpoint cannot check client certificates; statusdash/lib/tls.py can.
        web = [python, "-m", "statusdash.tls_server", "-b", "127.0.0.1", "-p", port]
        scheme, tls_context = "https", ssl.create_default_context(cafile=str(pki.ca_paths()[0]))
    commands = {
        "web": web,
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "statusdash",
            "worker",
            "--beat",
            "--loglevel",
            "WARNING",
            "--concurrency",
            "2",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ],
        "agent": [python, "-m", "agent", "run", "--env-file", str(agent_env)],
    }
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children["web"] = subprocess.Popen(commands["web"])
    if not wait_for_health(f"{scheme}://127.0.0.1:{port}/health", 30, tls_context):
        print("statusdash: the web server did not become healthy; see the output above", file=sys.stderr)
        stopping = True
    else:
        children["worker"] = subprocess.Popen(commands["worker"])
        children["agent"] = subprocess.Popen(commands["agent"])
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
