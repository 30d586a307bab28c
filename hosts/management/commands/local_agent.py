"""python manage.py local_agent: the env file of `make run`'s local agent; prints its path.

The file lives at DATA_DIR/agent/local.env (mode 0600) and keeps its agent key across
restarts while the key is valid for this machine's host. With MTLS_ENABLED the agent
gets a client certificate from the vault (CA and server certificate made if absent).
statusdash.run reads SERVER_URL and TLS_CA back from the file to start the others.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from hosts import pki, vault
from hosts.management.commands.apikey import ensure_host
from hosts.models import ApiKey, ApiKeyScope


class Command(BaseCommand):
    help = "Write the local agent's env file for make run (a reused agent key) and print its path."

    def handle(self, *args: Any, **options: Any) -> None:
        path = ensure_local_agent_env(settings.DATA_DIR, settings.STATUS_PORT, settings.MTLS_ENABLED)
        self.stdout.write(str(path))


def local_host_name() -> str:
    name = re.sub(r"[^a-z0-9.-]", "-", socket.gethostname().lower()).strip("-.")[:63]
    return name or "localhost"


def ensure_local_agent_env(data_dir: Path, port: int, mtls: bool = False) -> Path:
    """An env file for the local agent with a valid agent key, reused across restarts."""
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
