"""The agent's service checks: fetched from the hub with If-None-Match, run on their intervals,
sent with the next report, and spooled with it while the hub is away."""

from __future__ import annotations

import json
import threading
import time

import pytest

from agent import probes
from agent.config import Config
from agent.daemon import Agent
from agent.service_checks import MAX_BUFFERED, ServiceChecks
from agent.spool import Spool
from agent.transport import Transport


def tcp_check(ident: int, port: int, interval: float = 1) -> dict:
    return {"id": ident, "name": f"c{ident}", "kind": "tcp", "target": f"127.0.0.1:{port}", "interval": interval,
            "timeout": 1.0, "options": {}}  # fmt: skip


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def transport(api_config):
    made = Transport(api_config)
    yield made
    made.close()


@pytest.fixture
def runner(transport):
    made = ServiceChecks(transport.get, ["/usr/lib/nagios/plugins"])
    yield made
    made.close()


def checks_requests(sink) -> list[dict]:
    return [r for r in sink.requests if r["path"] == "/api/agent/checks"]


def test_the_list_is_fetched_then_only_revalidated(sink, runner) -> None:
    sink.checks = [tcp_check(1, 9)]
    assert runner.refresh() is True
    assert runner.refresh() is False  # a 304: nothing changed
    first, second = checks_requests(sink)
    assert "If-None-Match" not in first["headers"]
    assert second["headers"]["If-None-Match"] == runner.etag
    assert list(runner.checks) == [1]


def test_a_changed_list_replaces_the_one_in_hand(sink, runner) -> None:
    sink.checks = [tcp_check(1, 9), tcp_check(2, 9)]
    runner.refresh()
    sink.checks = [tcp_check(2, 9)]
    assert runner.refresh() is True
    assert list(runner.checks) == [2]


def test_an_older_hub_without_checks_is_asked_again_hourly(sink, runner) -> None:
    assert runner.refresh() is False
    assert runner.checks == {} and runner.thread is None  # nothing started
    assert runner.next_refresh > time.monotonic() + 3000


def test_the_hub_away_keeps_the_list_in_hand(sink, runner) -> None:
    sink.checks = [tcp_check(1, 9)]
    runner.refresh()
    sink.stop()
    assert runner.refresh() is False
    assert list(runner.checks) == [1]


def test_malformed_entries_are_skipped(sink, runner) -> None:
    sink.checks = [tcp_check(1, 9), {"id": "x"}, {**tcp_check(3, 9), "interval": 0}]
    runner.refresh()
    assert list(runner.checks) == [1]


def test_each_check_runs_on_its_interval_and_results_are_drained_once(runner) -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(50)
        # Straight to the schedule: the hub's shortest interval (20 s) would make a slow test.
        runner.replace({1: tcp_check(1, listener.getsockname()[1], interval=0.2)})
        wait_for(lambda: len(runner.results) >= 3)
        results = runner.drain()
    assert runner.drain() == [] or len(runner.results) <= 1
    assert {r["check_id"] for r in results} == {1}
    assert all(r["state"] == "ok" and r["latency_ms"] >= 0 for r in results)
    times = [r["ran_at"] for r in results]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_a_check_still_running_skips_its_turn(runner) -> None:
    started = []
    release = threading.Event()

    def slow(check, dirs):
        started.append(time.monotonic())
        release.wait(5)
        return probes.Result("ok")

    runner.probe = slow
    runner.replace({1: tcp_check(1, 9, interval=0.05)})
    time.sleep(0.5)
    release.set()
    assert len(started) == 1


def test_the_buffer_is_bounded(runner) -> None:
    from datetime import datetime, timezone

    for _ in range(MAX_BUFFERED + 10):
        runner.add_result(tcp_check(1, 9), datetime.now(timezone.utc), probes.Result("ok", "x" * 600))
    drained = runner.drain()
    assert len(drained) == MAX_BUFFERED
    assert len(drained[0]["message"]) == probes.MESSAGE_MAX_LENGTH


def test_results_ride_with_the_next_report_and_spool_while_the_hub_is_away(sink, api_config, transport) -> None:
    runner = ServiceChecks(transport.get, [])
    agent = Agent(api_config, transport, Spool(api_config.spool_dir, 10**7, 3600), checks=runner)
    runner.add_result(tcp_check(1, 9), probes_now(), probes.Result("critical", "refused", 1.5))
    agent.handle(agent.with_check_results(agent.collector.collect()), deadline=time.monotonic() + 5)
    (report,) = sink.stored.values()
    assert [(r["check_id"], r["state"], r["latency_ms"]) for r in report["checks"]] == [(1, "critical", 1.5)]

    sink.stop()
    runner.add_result(tcp_check(1, 9), probes_now(), probes.Result("ok", "back", 0.5))
    agent.handle(agent.with_check_results(agent.collector.collect()), deadline=time.monotonic() + 5)
    assert len(agent.spool) == 1
    ((_, body),) = agent.spool.oldest(1, 10**6)
    assert json.loads(body)["checks"][0]["message"] == "back"
    agent.spool.close()


def test_a_report_without_results_has_no_checks_field(sink, api_config, transport) -> None:
    agent = Agent(
        api_config, transport, Spool(api_config.spool_dir, 10**7, 3600), checks=ServiceChecks(transport.get, [])
    )
    agent.handle(agent.with_check_results(agent.collector.collect()), deadline=time.monotonic() + 5)
    (report,) = sink.stored.values()
    assert "checks" not in report


def probes_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def test_the_config_reads_the_plugin_directories(tmp_path) -> None:
    from agent import config

    loaded = config.load(environ={"CHECK_PLUGIN_DIRS": "/opt/plugins, /usr/lib/nagios/plugins/"}, require_server=False)
    assert loaded.check_plugin_dirs == ("/opt/plugins", "/usr/lib/nagios/plugins")
    assert config.load(environ={}, require_server=False).check_plugin_dirs == ("/usr/lib/nagios/plugins",)
    assert config.load(environ={"CHECK_PLUGIN_DIRS": ""}, require_server=False).check_plugin_dirs == ()
    for bad in ("plugins", "/opt/../etc"):
        with pytest.raises(config.ConfigError, match="CHECK_PLUGIN_DIRS"):
            config.load(environ={"CHECK_PLUGIN_DIRS": bad}, require_server=False)
    assert config.load(environ={"RUN_CHECKS": "no"}, require_server=False).run_checks is False


def test_as_environ_round_trips_the_check_settings() -> None:
    from agent import config

    made = Config(run_checks=False, check_plugin_dirs=("/a", "/b"))
    loaded = config.load(environ=config.as_environ(made), require_server=False)
    assert (loaded.run_checks, loaded.check_plugin_dirs) == (False, ("/a", "/b"))
