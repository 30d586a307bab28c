"""50 agents report to a real Daphne for a minute while a dashboard watches over its socket."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from statusdash.tests.reliability.conftest import (
    DashboardSocket,
    as_utc,
    host_ids,
    login,
    prepare_standalone,
    standalone_env,
    stored_reports,
)
from statusdash.tests.support import sample_report

AGENTS = 50
BATCHING_AGENTS = 10  # these catch up: a batch of BATCH_SIZE every BATCH_SIZE intervals
BATCH_SIZE = 10
INTERVAL = 1.0
LOAD_SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "60"))


@dataclass
class AgentRun:
    name: str
    key: str
    batch: int
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    accepted: list[datetime] = field(default_factory=list)  # collected_at of reports answered 2xx
    storing_requests: int = 0  # 2xx answers that stored something: each one must reach the dashboard
    errors: list[str] = field(default_factory=list)
    unanswered: list[datetime] = field(default_factory=list)  # sent, but the connection failed: may be stored


def simulate(agent: AgentRun, url: str, until: float, start_barrier: threading.Barrier) -> None:
    """One agent on one keep-alive connection: a report (or a batch) every interval."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {agent.key}"})
    start_barrier.wait()
    next_send = time.monotonic()
    while next_send < until:
        now = datetime.now(UTC)
        # Batched reports are spread back in time, as a catching-up agent's spool would be.
        reports = [sample_report(now - timedelta(seconds=INTERVAL * i)) for i in reversed(range(agent.batch))]
        body: Any = {"reports": reports} if agent.batch > 1 else reports[0]
        started = time.perf_counter()
        try:
            response = session.post(url, json=body, timeout=30)
        except requests.RequestException as error:
            agent.errors.append(str(error))
            agent.unanswered.extend(as_utc(r["collected_at"]) for r in reports)
        else:
            agent.latencies.append(time.perf_counter() - started)
            agent.statuses.append(response.status_code)
            if 200 <= response.status_code < 300:
                agent.accepted.extend(as_utc(r["collected_at"]) for r in reports)
                agent.storing_requests += response.json()["accepted"] > 0
        next_send += INTERVAL * agent.batch
        time.sleep(max(0.0, next_send - time.monotonic()))


@pytest.mark.timeout(LOAD_SECONDS + 240)  # the load itself, then starting the hub and checking
def test_fifty_agents_for_a_minute_lose_nothing_and_reach_the_dashboard(tmp_path: Path, start_hub: Any) -> None:
    data_dir = tmp_path / "hub-data"
    env = standalone_env(data_dir)
    names = [f"load-{i:02d}" for i in range(AGENTS)]
    keys = prepare_standalone(env, names)
    hub = start_hub(env)
    ids = host_ids(env)
    agents = [
        AgentRun(name, keys["agents"][name], BATCH_SIZE if i < BATCHING_AGENTS else 1) for i, name in enumerate(names)
    ]

    with DashboardSocket(hub.url, login(hub.url, "admin", "reliability-pass")) as dashboard:
        barrier = threading.Barrier(AGENTS + 1)
        until = time.monotonic() + 2 + LOAD_SECONDS  # the threads need a moment to start
        url = f"{hub.url}/api/metrics/report"
        threads = [threading.Thread(target=simulate, args=(a, url, until, barrier)) for a in agents]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.monotonic()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

        stored = stored_reports(env)
        for agent in agents:
            if agent.accepted:
                newest = max(agent.accepted).isoformat()
                assert dashboard.wait_for(ids[agent.name], newest), f"{agent.name}: newest report never pushed"

    statuses = [s for a in agents for s in a.statuses]
    assert not [a.errors for a in agents if a.errors], "requests failed at the transport"
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) == {202}
    assert hub.trouble() == [], "the hub logged errors or lock timeouts"
    for agent in agents:
        rows = stored[agent.name]
        assert len(rows) == len(set(rows)), f"{agent.name}: a report was stored twice"
        assert sorted(rows) == sorted(agent.accepted), f"{agent.name}: stored rows differ from accepted reports"
        pushed = dashboard.pushes[ids[agent.name]]
        assert len(pushed) >= agent.storing_requests, (
            f"{agent.name}: {agent.storing_requests} stores, {len(pushed)} pushes"
        )
        assert [as_utc(p) for p in pushed if p] == sorted(as_utc(p) for p in pushed if p), "pushes out of order"

    latencies = sorted(x for a in agents for x in a.latencies)
    reports = sum(len(a.accepted) for a in agents)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(
        f"\nload: {AGENTS} agents, {elapsed:.0f} s, {len(statuses)} requests, {reports} reports stored, "
        f"{reports / elapsed:.1f} reports/s, {len(statuses) / elapsed:.1f} requests/s, "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms, "
        f"pushes {sum(len(p) for p in dashboard.pushes.values())}, 5xx 0, lost 0"
    )
