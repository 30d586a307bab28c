"""A Celery worker is SIGKILLed in the middle of the alert sweep, then in the middle of sending
the notification: the next sweeps finish the work, and no alert is opened or sent twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from statusdash.tests.reliability.conftest import PrivateRedis, manage, prepare_standalone, query, standalone_env
from statusdash.tests.reliability.test_hub_killed import wait_for
from statusdash.tests.reliability.test_redis_outage import celery

OFFLINE_HOSTS = 1500  # enough that one sweep takes seconds, so the kill lands inside it
LEASE_SECONDS = 4

SETUP_SCRIPT = """
from datetime import timedelta
from django.utils import timezone
from alerts.models import NotificationChannel
from hosts.models import Host
gone = timezone.now() - timedelta(minutes=10)
Host.objects.bulk_create([Host(name=f"gone-{{i}}", last_seen=gone) for i in range({count})])
NotificationChannel.objects.create(name="webhook", url="json://127.0.0.1:{port}/")
"""


class Webhook:
    """The notification service. While `holding`, a message is received but never answered,
    as when the sender dies mid-request; only answered messages count as delivered."""

    def __init__(self) -> None:
        self.delivered: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []
        self.holding = True
        self.release = threading.Event()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if webhook.holding:
                    webhook.held.append(body)
                    webhook.release.wait(60)
                    return  # the connection closes with no answer
                webhook.delivered.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.release.set()
    hook.server.shutdown()
    hook.server.server_close()


class Worker:
    """`celery worker --beat`, as deployed; killed with its beat child, as the OOM killer or
    a container runtime would (the whole process group, SIGKILL)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with open(self.log_path, "ab") as log:
            self.process = celery(
                self.env,
                *("worker", "--beat", "--pool", "solo", "--loglevel", "WARNING"),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        if self.process is not None and self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def counts(env: dict[str, str]) -> dict[str, Any]:
    def one(statement: str) -> Any:
        return query(env, statement)[0][0]

    return {
        "alerts": one("SELECT count(*) FROM alerts_alert WHERE rule = 'host_offline'"),
        "alerted_hosts": one("SELECT count(DISTINCT host_id) FROM alerts_alert WHERE rule = 'host_offline'"),
        "transitions": one("SELECT count(*) FROM alerts_alerttransition"),
        "unprocessed": one("SELECT count(*) FROM alerts_alerttransition WHERE processed_at IS NULL"),
        "notifications": query(env, "SELECT status, attempts FROM alerts_notification"),
    }


def test_a_worker_killed_mid_sweep_and_mid_send_leaves_nothing_undone_and_nothing_doubled(
    tmp_path: Path, private_redis: PrivateRedis, webhook: Webhook
) -> None:
    data_dir = tmp_path / "hub-data"
    env = standalone_env(
        data_dir,
        REDIS_URL=private_redis.url,
        ALERT_SWEEP_SECONDS="1",
        ALERT_DISPATCH_SECONDS="1",
        ALERT_GROUP_WINDOW_SECONDS="0",
        NOTIFY_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    prepare_standalone(env, [])
    manage(env, "shell", "-c", SETUP_SCRIPT.format(count=OFFLINE_HOSTS, port=webhook.port))
    worker = Worker(env, tmp_path / "worker.log")
    try:
        # 1. Killed in the middle of the sweep that opens the offline alerts.
        worker.start()
        wait_for(lambda: counts(env)["alerts"] > 0, 60, "the sweep to start opening alerts")
        worker.kill()
        mid_sweep = counts(env)
        assert 0 < mid_sweep["alerts"] < OFFLINE_HOSTS, f"the kill missed the sweep: {mid_sweep}"
        assert mid_sweep["notifications"] == []

        # 2. The next sweeps finish the alerts and notify; killed while a message is on the wire.
        worker.start()
        wait_for(lambda: bool(webhook.held), 90, "a notification to reach the webhook")
        worker.kill()
        mid_send = counts(env)
        assert mid_send["notifications"], mid_send
        assert {status for status, _ in mid_send["notifications"]} == {"pending"}, "an unanswered send is not done"
        assert sum(attempts for _, attempts in mid_send["notifications"]) == len(webhook.held) == 1

        # 3. A fresh worker finishes what is left; the dead task's message goes again once its lease runs out.
        webhook.holding = False
        webhook.release.set()
        worker.start()

        def all_sent() -> bool:
            now = counts(env)
            done = now["alerts"] == OFFLINE_HOSTS and now["unprocessed"] == 0
            return done and {status for status, _ in now["notifications"]} == {"sent"}

        wait_for(all_sent, 90, "every alert to be opened and notified")
        # Long enough for another lease to run out: a duplicate would have been sent by now.
        time.sleep(LEASE_SECONDS + 3)
        assert worker.alive()
    finally:
        worker.kill()
    log = (tmp_path / "worker.log").read_text(errors="replace")
    final = counts(env)
    assert final["alerts"] == final["alerted_hosts"] == final["transitions"] == OFFLINE_HOSTS, "an alert opened twice"
    assert {status for status, _ in final["notifications"]} == {"sent"}
    # Each sent once; the one on the wire when its worker died counts that attempt too.
    assert sum(attempts for _, attempts in final["notifications"]) == len(final["notifications"]) + 1
    assert len(webhook.delivered) == len(final["notifications"]), "a notification was delivered twice"
    lines = [line for message in webhook.delivered for line in message["message"].splitlines()]
    for i in range(OFFLINE_HOSTS):
        assert sum(line.startswith(f"FIRING [CRITICAL] gone-{i}: ") for line in lines) == 1, f"gone-{i}"
    print(
        f"\nworker killed: mid-sweep at {mid_sweep['alerts']}/{OFFLINE_HOSTS} alerts, mid-send with"
        f" {len(webhook.held)} message on the wire; after restart {final['alerts']} alerts,"
        f" {len(webhook.delivered)} messages delivered, {sum(line.startswith('FIRING') for line in lines)} alert lines, 0 twice"
    )
    assert "database is locked" not in log
