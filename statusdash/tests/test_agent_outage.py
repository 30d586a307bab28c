"""The agent against a real hub that goes away: every report collected meanwhile arrives once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import hub_env
from hosts.models import ApiKey, ApiKeyScope, Host
from metrics.models import MetricSample
from statusdash.tests.support import BASE_DIR, daphne_server, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_reports_collected_while_the_hub_is_down_arrive_exactly_once(tmp_path: Path) -> None:
    host = Host.objects.create(name="outage-host")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    port = free_port()
    env = hub_env(tmp_path)
    log_path = tmp_path / "agent.log"
    agent_env = {
        "PATH": os.environ["PATH"],
        "SERVER_URL": f"http://127.0.0.1:{port}",
        "MTLS_ENABLED": "false",
        "API_KEY": key,
        "REPORT_INTERVAL": "1",
        "REQUEST_TIMEOUT": "2",
        "SPOOL_DIR": str(tmp_path / "spool"),
        "LOG_LEVEL": "DEBUG",
    }
    stored = lambda: MetricSample.objects.filter(host=host).count()  # noqa: E731

    with log_path.open("w") as log_file:
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent", "run"], cwd=BASE_DIR, env=agent_env, stdout=log_file, stderr=log_file
        )
        try:
            with daphne_server(env=env, port=port):
                wait_for(lambda: stored() >= 2, 30, "reports before the outage")
            # The hub is gone: the agent keeps collecting into its spool.
            before_outage = stored()
            time.sleep(5)
            assert stored() == before_outage
            with daphne_server(env=env, port=port):
                wait_for(lambda: "0 left" in log_path.read_text(), 90, "the spool to drain")
                agent.send_signal(signal.SIGTERM)
                assert agent.wait(timeout=30) == 0
        finally:
            if agent.poll() is None:
                agent.kill()

    text = log_path.read_text()
    collected = {datetime.fromisoformat(stamp) for stamp in re.findall(r"collected report (\S+)", text)}
    rows = list(MetricSample.objects.filter(host=host).values_list("collected_at", flat=True))
    assert "spooled" in text, "the outage was noticed"
    left = int(re.findall(r"agent stopping; (\d+) report\(s\) left in the spool", text)[-1])
    assert len(collected) >= 7
    assert len(rows) == len(set(rows)), "no report stored twice"
    # What the agent collected is stored, but for what it put in its spool while stopping.
    assert set(rows) <= collected
    assert len(collected - set(rows)) == left
