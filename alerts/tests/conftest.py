"""Alerting test helpers: a real HTTP receiver for Apprise json:// URLs, a channel to it, a frozen clock,
and Celery run in-process."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.apps import apps as django_apps

from alerts.evaluate import forget_rules
from alerts.models import NotificationChannel
from alerts.tasks import dispatch_notifications
from statusdash.celery import app as celery_app

DEFAULT_RULES_MIGRATION = importlib.import_module("alerts.migrations.0003_default_rules")
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _default_rules(request: pytest.FixtureRequest) -> None:
    """The default rules a deployed database has from its migrations.

    Another file's transactional test, run earlier on the same worker, may have emptied
    the tables (test files are spread over workers whole, so Django's ordering of
    transactional tests last does not hold across files).
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None and "db" not in request.fixturenames:
        return
    transactional = bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    DEFAULT_RULES_MIGRATION.create(django_apps, None)


class Receiver:
    """A webhook endpoint: records every JSON body; answers 500 to the first `fail_first` posts."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.fail_first = 0
        self.posts = 0
        # Called with each post before it is answered: what happens while a send is in flight.
        self.on_post: Callable[[], None] | None = None
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts += 1
                if receiver.on_post is not None:
                    receiver.on_post()
                if receiver.posts <= receiver.fail_first:
                    self.send_response(500)
                else:
                    receiver.messages.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(autouse=True)
def fresh_rules() -> Iterator[None]:
    """Tests edit rules with update() (no signal) and roll back: never evaluate with a stale copy."""
    forget_rules()
    yield
    forget_rules()


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[None]:
    """Tasks queued by the code under test run at once, in this process (retries included)."""
    # Not task_eager_propagates: it would surface a retry as an exception instead of retrying.
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def channel(receiver: Receiver, db: Any) -> NotificationChannel:
    return NotificationChannel.objects.create(name="ops webhook", url=receiver.url)


def dispatch(capture: Any) -> int:
    """Run the dispatch sweep; `capture` (django_capture_on_commit_callbacks) runs the tasks it queues."""
    with capture(execute=True):
        return dispatch_notifications.apply().get()
