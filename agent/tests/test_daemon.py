import json
import logging
import threading
import time

import pytest

from agent.collector import Collector
from agent.daemon import BATCH_SIZE, REFUSED_RETRY_SECONDS, Agent
from agent.spool import Spool
from agent.transport import Backoff, Transport, encode


class RecordingCollector(Collector):
    """The real collector, remembering which reports it made."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[str] = []

    def collect(self):
        report = super().collect()
        self.made.append(report["collected_at"])
        return report


def make_agent(cfg, **kwargs) -> Agent:
    spool = Spool(cfg.spool_dir, int(cfg.spool_max_mb * 1e6), cfg.spool_max_age_hours * 3600)
    kwargs.setdefault("backoff", Backoff(base=0.05, cap=0.2))
    return Agent(cfg, Transport(cfg), spool, collector=RecordingCollector(), **kwargs)


def report(n: int) -> dict:
    return {"collected_at": f"2026-11-28T04:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}+00:00", "cpu": {"percent": 1.0}}


def spool_reports(agent: Agent, count: int) -> list[str]:
    stamps = []
    for n in range(count):
        agent.spool.put(report(n)["collected_at"], encode(report(n)))
        stamps.append(report(n)["collected_at"])
    return stamps


def far() -> float:
    return time.monotonic() + 60


def test_report_goes_straight_to_a_healthy_hub(sink, api_config):
    agent = make_agent(api_config)
    agent.collector.prime()
    agent.handle(agent.collector.collect(), deadline=far())
    assert list(sink.stored) == agent.collector.made
    assert len(agent.spool) == 0


def test_report_is_spooled_while_the_hub_is_down_and_sending_backs_off(sink, api_config):
    sink.stop()
    agent = make_agent(api_config)
    agent.collector.prime()
    agent.handle(agent.collector.collect(), deadline=far())
    assert len(agent.spool) == 1
    assert agent.next_send > time.monotonic()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_report_is_spooled_on_server_errors(sink, api_config, status):
    sink.answer_next(status)
    agent = make_agent(api_config)
    agent.handle(report(1), deadline=far())
    assert len(agent.spool) == 1 and not sink.stored


def test_new_report_queues_behind_the_backlog(sink, api_config):
    agent = make_agent(api_config)
    earlier = spool_reports(agent, 3)
    agent.handle(report(10), deadline=far())
    assert sink.delivered == [*earlier, report(10)["collected_at"]]
    assert len(agent.spool) == 0


def test_retry_after_is_honoured(sink, api_config):
    sink.answer_next(429, {"detail": "slow down"}, {"Retry-After": "30"})
    agent = make_agent(api_config, backoff=Backoff(base=0.05, cap=300))
    agent.handle(report(1), deadline=far())
    assert agent.next_send - time.monotonic() > 29


def test_backlog_is_sent_oldest_first_in_batches_and_then_removed(sink, api_config):
    agent = make_agent(api_config)
    stamps = spool_reports(agent, 450)
    agent.flush(deadline=far())
    batches = [json.loads(r["body"])["reports"] for r in sink.requests]
    assert [len(b) for b in batches] == [BATCH_SIZE, BATCH_SIZE, 50]
    assert sink.delivered == stamps
    assert len(agent.spool) == 0


def test_flush_stops_at_the_first_failure_and_keeps_the_rest(sink, api_config):
    agent = make_agent(api_config)
    spool_reports(agent, 450)
    sink.answer_next(503, times=1)
    agent.flush(deadline=far())
    assert len(agent.spool) == 450 and agent.next_send > time.monotonic()


def test_flush_stops_when_the_next_collection_is_due(sink, api_config):
    agent = make_agent(api_config)
    spool_reports(agent, 450)
    agent.flush(deadline=time.monotonic())
    assert len(agent.spool) == 450


def test_invalid_report_in_a_batch_is_isolated_and_dropped(sink, api_config, caplog):
    agent = make_agent(api_config)
    good = spool_reports(agent, 6)
    agent.spool.put("2026-11-28T05:00:00+00:00", b'{"collected_at":"2026-11-28T05:00:00+00:00"}')
    later = report(100)
    agent.spool.put(later["collected_at"], encode(later))
    with caplog.at_level(logging.WARNING):
        agent.flush(deadline=far())
    assert sorted(sink.stored) == sorted([*good, later["collected_at"]])
    assert len(agent.spool) == 0
    assert "body.reports.0.collected_at: Field required" in caplog.text


def test_invalid_fresh_report_is_dropped_not_retried(sink, api_config, caplog):
    sink.answer_next(422, {"detail": [{"loc": ["body", "cpu", "percent"], "msg": "must be <= 100", "type": "x"}]})
    agent = make_agent(api_config)
    with caplog.at_level(logging.ERROR):
        agent.handle(report(1), deadline=far())
    assert len(agent.spool) == 0 and agent.next_send == 0
    assert "body.cpu.percent: must be <= 100" in caplog.text


def test_refused_credentials_keep_reports_and_pause_sending(sink, api_config, caplog):
    agent = make_agent(api_config._replace(api_key="revoked"))
    with caplog.at_level(logging.ERROR):
        agent.handle(report(1), deadline=far())
    assert len(agent.spool) == 1
    assert agent.next_send - time.monotonic() >= REFUSED_RETRY_SECONDS - 1
    assert "Missing or unknown API key" in caplog.text


def test_wrong_url_keeps_reports_instead_of_dropping_them(sink, api_config, caplog):
    agent = make_agent(api_config._replace(server_url=sink.url + "/typo"))
    with caplog.at_level(logging.ERROR):
        agent.handle(report(1), deadline=far())
    assert len(agent.spool) == 1
    assert "HTTP 404" in caplog.text and "check SERVER_URL" in caplog.text


def test_crash_between_send_and_delete_duplicates_nothing(sink, api_config):
    first = make_agent(api_config)
    stamps = spool_reports(first, 10)
    # The first process sent the batch and died before deleting it.
    rows = first.spool.oldest(100, 10**6)
    first.transport.send(b'{"reports":[' + b",".join(body for _, body in rows) + b"]}")
    first.spool.close()
    second = make_agent(api_config)
    second.flush(deadline=far())
    assert len(second.spool) == 0
    assert sorted(sink.stored) == sorted(stamps)
    assert sink.delivered == stamps + stamps  # the resend counted as duplicates


def test_restart_with_a_full_spool_delivers_everything_in_order(sink, api_config):
    cfg = api_config._replace(spool_max_mb=0.05)
    before = make_agent(cfg)
    spool_reports(before, 2000)  # far more than fits: the oldest are dropped
    kept = len(before.spool)
    before.spool.close()
    after = make_agent(cfg)
    assert len(after.spool) == kept < 2000
    after.flush(deadline=far())
    assert sink.delivered == [report(n)["collected_at"] for n in range(2000 - kept, 2000)]


def run_in_thread(agent: Agent) -> threading.Thread:
    thread = threading.Thread(target=agent.run, daemon=True)  # never outlives a failed test run
    thread.start()
    return thread


def wait_for(condition, timeout=10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_every_report_collected_during_an_outage_arrives_exactly_once(sink, api_config):
    agent = make_agent(api_config._replace(report_interval=0.1, request_timeout=0.5))
    thread = run_in_thread(agent)
    try:
        wait_for(lambda: len(sink.stored) >= 3)
        sink.stop()
        wait_for(lambda: len(agent.spool) >= 10)
        sink.start()
        wait_for(lambda: len(agent.spool) == 0 and len(sink.stored) >= len(agent.collector.made) - 1)
    finally:
        agent.stop.set()
        thread.join(5)
    assert not thread.is_alive()
    made = agent.collector.made
    stored_or_spooled = len(sink.stored) + len(agent.spool)
    assert stored_or_spooled == len(made)
    assert set(sink.stored) <= set(made)
    assert sorted(sink.delivered) == sorted(sink.stored)  # each sent once, no duplicates
    assert sink.delivered == sorted(sink.delivered)  # oldest first, across the outage


def test_stop_while_the_hub_is_down_leaves_the_last_report_in_the_spool(sink, api_config):
    sink.stop()
    agent = make_agent(api_config._replace(report_interval=0.1, request_timeout=0.5))
    thread = run_in_thread(agent)
    try:
        wait_for(lambda: len(agent.spool) >= 3)
    finally:
        agent.stop.set()
        thread.join(5)
    assert len(agent.spool) == len(agent.collector.made)
