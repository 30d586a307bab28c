"""The hub is SIGKILLed in the middle of the load: agents spool, backfill, and nothing is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from statusdash.tests.reliability.conftest import (
    RecordingAgent,
    as_utc,
    prepare_standalone,
    standalone_env,
    stored_reports,
)
from statusdash.tests.reliability.test_load import AgentRun, simulate

AGENTS = 6  # real agent processes
SIMULATED = 20  # and simulated ones, for load while the hub dies


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_agents_backfill_every_report_once_after_the_hub_is_killed_and_restarted(
    tmp_path: Path, start_hub: Any
) -> None:
    data_dir = tmp_path / "hub-data"
    env = standalone_env(data_dir)
    names = [f"kill-{i}" for i in range(AGENTS)]
    simulated_names = [f"sim-{i}" for i in range(SIMULATED)]
    keys = prepare_standalone(env, names + simulated_names)
    hub = start_hub(env)
    agents = {name: RecordingAgent(tmp_path / name, hub.url, keys["agents"][name], interval=1) for name in names}
    simulated = [AgentRun(name, keys["agents"][name], 1) for name in simulated_names]
    barrier = threading.Barrier(SIMULATED + 1)
    until = time.monotonic() + 25
    threads = [
        threading.Thread(target=simulate, args=(a, f"{hub.url}/api/metrics/report", until, barrier)) for a in simulated
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    try:
        wait_for(lambda: all(stored_reports(env)[n] for n in names), 30, "every agent's first report")
        time.sleep(3)
        hub.kill()
        # Down long enough for every agent to spool several reports.
        wait_for(lambda: all(a.spooled() >= 3 for a in agents.values()), 30, "agents to spool")
        hub.start()  # same port, same database: as systemd would restart it
        wait_for(lambda: all(a.spooled() == 0 for a in agents.values()), 90, "agents to backfill their spools")
        time.sleep(2)
    finally:
        for agent in agents.values():
            agent.stop()  # SIGTERM: a report in hand goes to the spool

    for thread in threads:
        thread.join()
    stored = stored_reports(env)
    for run in simulated:
        # Every 2xx is stored once; a request cut off by the kill may or may not have been.
        rows = stored[run.name]
        assert len(rows) == len(set(rows)), f"{run.name}: a report was stored twice"
        assert set(run.accepted) <= set(rows), f"{run.name}: a report answered 2xx is missing"
        assert set(rows) <= set(run.accepted) | set(run.unanswered)
        assert [s for s in run.statuses if s >= 500] == []
    for name, agent in agents.items():
        collected = {as_utc(s) for s in agent.collected()}
        left_in_spool = agent.spooled_collected_at()
        rows = stored[name]
        assert len(rows) == len(set(rows)), f"{name}: a report was stored twice"
        assert set(rows) <= collected, f"{name}: stored a report the agent never collected"
        assert collected - set(rows) <= left_in_spool, f"{name}: lost {sorted(collected - set(rows) - left_in_spool)}"
        assert len(left_in_spool) <= 1, f"{name}: more than the report in hand left unsent"
        assert "sent" in agent.log() and "spooled report" in agent.log(), f"{name} never backfilled"
    assert hub.trouble() == []
    total = sum(len(a.collected()) for a in agents.values())
    print(
        f"\nhub killed: {AGENTS} agents collected {total} reports, stored {sum(len(stored[n]) for n in names)}, lost 0; "
        f"{sum(len(r.accepted) for r in simulated)} simulated reports answered 2xx, all stored once"
    )
