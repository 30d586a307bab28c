"""The agent against a real hub that goes away: every report collected meanwhile arrives once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.spool import Spool
from agent.transport import encode
from conftest import hub_env
from hosts.models import ApiKey, ApiKeyScope, Host
from metrics.history import history
from metrics.models import MetricRollup, MetricSample
from metrics.rollups import delete_expired, raw_window_start, roll_up
from statusdash.tests.support import BASE_DIR, daphne_server, free_port, sample_report

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def agent_environment(port: int, key: str, spool: Path) -> dict[str, str]:
    """A key-authenticated agent reporting every second to a hub on this port."""
    return {
        "PATH": os.environ["PATH"],
        "SERVER_URL": f"http://127.0.0.1:{port}",
        "MTLS_ENABLED": "false",
        "API_KEY": key,
        "REPORT_INTERVAL": "1",
        "REQUEST_TIMEOUT": "2",
        "SPOOL_DIR": str(spool),
        "LOG_LEVEL": "DEBUG",
    }


def start_agent(environment: dict[str, str], log_file: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "run"], cwd=BASE_DIR, env=environment, stdout=log_file, stderr=log_file
    )


def test_reports_collected_while_the_hub_is_down_arrive_exactly_once(tmp_path: Path) -> None:
    host = Host.objects.create(name="outage-host")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    port = free_port()
    env = hub_env(tmp_path)
    log_path = tmp_path / "agent.log"
    agent_env = agent_environment(port, key, tmp_path / "spool")
    stored = lambda: MetricSample.objects.filter(host=host).count()  # noqa: E731

    with log_path.open("w") as log_file:
        agent = start_agent(agent_env, log_file)
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


def test_a_three_day_outage_backfills_into_every_tier(tmp_path: Path, settings: Any) -> None:
    """Reports an agent spooled through three days without its hub reach the hub's history:
    the last RAW_RETENTION_HOURS as raw samples, all of them in the rollups the 7-day chart reads,
    also after retention has run."""
    host = Host.objects.create(name="cut-off")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    now = datetime.now(UTC)
    spooled = [now - timedelta(hours=72) + timedelta(minutes=15 * i) for i in range(72 * 4)]
    spool = Spool(str(tmp_path / "spool"), max_bytes=50 * 1024 * 1024, max_age_seconds=168 * 3600)
    for at in spooled:
        assert spool.put(at.isoformat(), encode(sample_report(at, host="cut-off", seed=int(at.timestamp()))))
    spool.close()

    port = free_port()
    log_path = tmp_path / "agent.log"
    agent_env = agent_environment(port, key, tmp_path / "spool")
    with daphne_server(env=hub_env(tmp_path), port=port), log_path.open("w") as log_file:
        agent = start_agent(agent_env, log_file)
        try:
            wait_for(lambda: " 0 left" in log_path.read_text(), 90, "the spool to drain")
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=30) == 0
        finally:
            if agent.poll() is None:
                agent.kill()

    stored = set(MetricSample.objects.filter(host=host).values_list("collected_at", flat=True))
    assert set(spooled) <= stored, "every spooled report was accepted and stored"
    # The beat tasks, as they would run after the backfill: rollups (once the rows settle), retention.
    later = datetime.now(UTC) + timedelta(minutes=1)
    roll_up(later)
    delete_expired(later)

    raw_now = set(MetricSample.objects.filter(host=host).values_list("collected_at", flat=True))
    recent = {at for at in spooled if at >= raw_window_start(later)}
    assert recent <= raw_now and not {at for at in spooled if at < raw_window_start(later)} & raw_now
    for step, _keep in settings.ROLLUP_TIERS:
        counted = sum(
            MetricRollup.objects.filter(host=host, step=step, bucket_start__lt=now - timedelta(minutes=1)).values_list(
                "sample_count", flat=True
            )
        )
        assert counted >= len(spooled), f"the {step}s tier holds every spooled report"
    chart = history(host, "7d")
    shown = set(chart["timestamps"])
    step = chart["step_seconds"]
    missing = sorted({int(at.timestamp()) // step * step for at in spooled} - shown)
    assert missing == [], f"the 7-day chart misses {len(missing)} of its points for the outage"
