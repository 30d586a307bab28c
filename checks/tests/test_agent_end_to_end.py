"""An agent runs the checks the hub assigns it, end to end: a real hub (Daphne) and a real agent process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from checks.models import Check, CheckResult
from conftest import hub_env
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.support import BASE_DIR, daphne_server, free_port

PLUGINS = "/usr/lib/nagios/plugins"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.needs_tool(f"{PLUGINS}/check_tcp", "monitoring-plugins-basic"),
]


def wait_for_results(names: set[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while set(CheckResult.objects.values_list("service_check__name", flat=True)) < names:
        assert time.monotonic() < deadline, f"no results for {names} within {seconds} s"
        time.sleep(0.2)


def test_an_agent_runs_its_plugin_and_http_checks_and_the_hub_shows_their_latency(tmp_path: Path) -> None:
    host = Host.objects.create(name="web-1", tags=["edge"])
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    port = free_port()
    with socket.socket() as listener:  # what check_tcp connects to
        listener.bind(("127.0.0.1", 0))
        listener.listen(50)
        db_port = listener.getsockname()[1]
        plugin = Check.objects.create(
            name="db-port",
            kind="plugin",
            target=f"{PLUGINS}/check_tcp",
            options={"args": ["-H", "127.0.0.1", "-p", str(db_port)]},
            interval=20,
            timeout=5,
            host=host,
        )
        # By tag: the hub's own /health, fetched by the agent with requests.
        site = Check.objects.create(
            name="hub-health",
            kind="http",
            target=f"http://127.0.0.1:{port}/health",
            options={"keyword": "ok"},
            interval=20,
            timeout=5,
            host_tag="edge",
        )
        not_mine = Check.objects.create(name="elsewhere", kind="tcp", target=f"127.0.0.1:{db_port}", interval=20)
        with daphne_server(env=hub_env(tmp_path), port=port), (tmp_path / "agent.log").open("w") as log:
            agent = subprocess.Popen(
                [sys.executable, "-m", "agent", "run"],
                cwd=BASE_DIR,
                env={
                    "PATH": os.environ["PATH"],
                    "SERVER_URL": f"http://127.0.0.1:{port}",
                    "MTLS_ENABLED": "false",
                    "API_KEY": key,
                    "REPORT_INTERVAL": "1",
                    "REQUEST_TIMEOUT": "5",
                    "SPOOL_DIR": str(tmp_path / "spool"),
                    "CHECK_PLUGIN_DIRS": PLUGINS,
                    "LOG_LEVEL": "DEBUG",
                },
                stdout=log,
                stderr=log,
            )
            try:
                wait_for_results({"db-port", "hub-health"}, 30)
                agent.send_signal(signal.SIGTERM)
                assert agent.wait(timeout=30) == 0
            finally:
                if agent.poll() is None:
                    agent.kill()
    log_text = (tmp_path / "agent.log").read_text()
    for check in (plugin, site):
        check.refresh_from_db()
        result: Any = check.results.first()
        assert (result.state, result.host_id) == ("ok", host.pk), (check.name, result.message, log_text[-3000:])
        assert result.latency_ms is not None and result.latency_ms > 0
        assert (check.state, check.last_latency_ms) == ("ok", result.latency_ms)
    assert "TCP OK" in plugin.last_message
    assert not not_mine.results.exists()
