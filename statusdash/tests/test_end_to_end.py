"""The agent collects this machine and reports it to a real hub over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from hosts.models import ApiKey, ApiKeyScope, Host
from metrics.models import MetricSample
from statusdash.tests.support import BASE_DIR

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_agent(server: str, key: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "SERVER_URL": server,
        "MTLS_ENABLED": "false",
        "API_KEY": key,
        "SPOOL_DIR": str(tmp_path / "spool"),
        "LOG_LEVEL": "INFO",
    }
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_agent_once_is_stored_and_listed(live_hub: str, tmp_path: Path) -> None:
    host = Host.objects.create(name="e2e-host")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    _, read_key = ApiKey.issue(ApiKeyScope.READ, label="e2e")

    result = run_agent(live_hub, key, tmp_path, "--once")
    assert result.returncode == 0, result.stderr

    sample = MetricSample.objects.get(host=host)
    assert 0 <= sample.cpu_percent <= 100
    assert sample.memory_total > 0
    assert sample.detail["disks"], "this machine has at least one real mount"
    host.refresh_from_db()
    assert host.agent_version and host.kernel and host.cpu_count == os.cpu_count()

    listed = requests.get(f"{live_hub}/api/hosts", headers={"X-API-Key": read_key}, timeout=10).json()
    (card,) = [h for h in listed if h["name"] == "e2e-host"]
    assert card["status"] == "online"
    assert card["latest"]["memory_total"] == sample.memory_total


def test_agent_with_a_revoked_key_fails_with_the_hubs_reason(live_hub: str, tmp_path: Path) -> None:
    host = Host.objects.create(name="e2e-revoked")
    key_row, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    key_row.revoke()
    result = run_agent(live_hub, key, tmp_path, "--once")
    assert result.returncode != 0
    assert "revoked" in result.stderr + result.stdout
    assert not MetricSample.objects.filter(host=host).exists()
