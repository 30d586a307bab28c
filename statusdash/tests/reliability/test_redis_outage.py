"""Redis stops in the middle of the run (Redis mode): ingest goes on, /health says so,
live updates and Celery come back with Redis, and nothing collected is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from statusdash.tests.reliability.conftest import (
    DashboardSocket,
    PrivateRedis,
    RecordingAgent,
    as_utc,
    host_ids,
    login,
    prepare_standalone,
    standalone_env,
    stored_reports,
)
from statusdash.tests.reliability.test_hub_killed import wait_for
from statusdash.tests.support import BASE_DIR

AGENTS = 3


def celery(env: dict[str, str], *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "statusdash", *args],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "statusdash.settings", **env},
        **popen,
    )


def worker_answers(env: dict[str, str]) -> bool:
    ping = celery(env, "inspect", "ping", "--timeout", "2", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = ping.communicate(timeout=60)
    return ping.returncode == 0 and b"pong" in out


def health(url: str) -> dict[str, Any]:
    response = requests.get(f"{url}/health", timeout=10)
    assert response.status_code == 200, "the hub must stay up without Redis"
    return dict(response.json())


def test_redis_outage_degrades_nothing_but_live_updates_and_loses_nothing(
    tmp_path: Path, start_hub: Any, private_redis: PrivateRedis
) -> None:
    data_dir = tmp_path / "hub-data"
    env = standalone_env(data_dir, REDIS_URL=private_redis.url)
    names = [f"redis-{i}" for i in range(AGENTS)]
    keys = prepare_standalone(env, names)
    hub = start_hub(env)
    ids = host_ids(env)
    with open(tmp_path / "worker.log", "wb") as worker_log:
        worker = celery(env, "worker", "--pool", "solo", "--loglevel", "WARNING", stdout=worker_log, stderr=worker_log)
    agents = [RecordingAgent(tmp_path / n, hub.url, keys["agents"][n], interval=1) for n in names]
    try:
        with DashboardSocket(hub.url, login(hub.url, "admin", "reliability-pass"), reconnect=True) as dashboard:
            wait_for(lambda: all(dashboard.pushes.get(ids[n]) for n in names), 30, "the first pushes")
            wait_for(lambda: worker_answers(env), 60, "the Celery worker")
            assert health(hub.url)["status"] == "ok"

            private_redis.stop()
            down_at = datetime.now(UTC)
            before = sum(map(len, stored_reports(env).values()))
            wait_for(lambda: health(hub.url)["checks"]["redis"]["status"] == "down", 15, "/health to see Redis down")
            assert health(hub.url)["status"] == "degraded"
            time.sleep(5)
            during = sum(map(len, stored_reports(env).values()))
            assert during >= before + AGENTS * 3, "ingest stopped storing while Redis was down"
            assert not worker_answers(env)

            private_redis.start()  # same port, empty: as after a Redis restart
            back_at = datetime.now(UTC)
            wait_for(lambda: health(hub.url)["status"] == "ok", 30, "/health to recover")
            wait_for(lambda: worker_answers(env), 60, "the Celery worker to reconnect")

            def pushed_since_return() -> bool:
                return all(any(p and as_utc(p) > back_at for p in dashboard.pushes.get(ids[n], [])) for n in names)

            wait_for(pushed_since_return, 60, "live updates after Redis returned")
            assert dashboard.connections >= 1
    finally:
        for agent in agents:
            agent.stop()
        worker.terminate()
        worker.wait(30)

    stored = stored_reports(env)
    for name, agent in zip(names, agents, strict=True):
        collected = {as_utc(s) for s in agent.collected()}
        rows = stored[name]
        assert len(rows) == len(set(rows))
        missing = collected - set(rows) - agent.spooled_collected_at()
        assert missing == set(), f"{name} lost reports"
        assert any(down_at < r < back_at for r in rows), f"{name}: nothing stored during the outage"
    # Daphne logs the dashboard sockets that lost Redis (closed, then reconnected) as errors
    # of the application; anything else is a bug.
    assert [line for line in hub.trouble() if "redis.exceptions.ConnectionError" not in line] == []
    print(
        f"\nredis outage (socket: {dashboard.connections} connections, {dashboard.refusals} refused or closed): {(back_at - down_at).total_seconds():.0f} s down, {sum(map(len, stored.values()))} reports stored, lost 0"
    )
