"""Issue 16's "Done when" for the hub, walked in a real browser against a real Daphne.

An admin adds `http http://127.0.0.1:PORT/health` from the dashboard's form and sees it go
green on /checks/ live; a local server behind another check stops, that check goes red
live (after its retry), its alert is raised and sent through a webhook channel, then it
recovers (live, and the recovery is sent too); the admin marks the check public from its
edit form and sees it, with its down period as an incident, on /status/.

The scheduler runs as the beat job runs it (`checks.scheduler.run_due`, what the Celery
task `checks.run_due` calls), handed a `now` one interval later each time rather than
waiting a minute; the alert dispatch is the beat job's own task, run in this process.
Playwright's event loop owns this thread, so database work runs in another (`in_thread`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.utils import timezone
from playwright.sync_api import Page, expect, sync_playwright

from alerts.models import Alert, NotificationChannel
from alerts.tasks import dispatch_notifications
from checks import scheduler
from checks.models import Check, CheckState
from conftest import CHROMIUM, hub_env
from statusdash.celery import app as celery_app
from statusdash.tests.support import daphne_server, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_PASSWORD = "pw-admin-123"


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class LocalServer:
    """A service on a fixed loopback port that the test stops and starts again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Health)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None


class Webhook:
    """The alert channel's far end: an Apprise json:// endpoint that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                webhook.messages.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    webhook = Webhook()
    yield webhook
    webhook.server.shutdown()
    webhook.server.server_close()


def running_server() -> Iterator[LocalServer]:
    server = LocalServer()
    server.start()
    yield server
    if server.server is not None:
        server.stop()


@pytest.fixture
def site() -> Iterator[LocalServer]:
    yield from running_server()


@pytest.fixture
def backend() -> Iterator[LocalServer]:
    yield from running_server()


@pytest.fixture(autouse=True)
def tasks_in_this_process(settings: Any) -> Iterator[None]:
    """The deliveries the dispatch sweep queues run here, at once; no grouping wait."""
    settings.ALERT_GROUP_WINDOW_SECONDS = 0
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def in_thread(work: Callable[[], Any]) -> Any:
    """ORM work while Playwright's loop runs in this thread (Django refuses it here)."""
    box: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connection back to the pool (PostgreSQL)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return box[0]


class Beat:
    """The scheduler's beat, one check interval apart each time it is called."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def tick(self) -> int:
        self.now += timedelta(seconds=61)
        return int(in_thread(lambda: scheduler.run_due(self.now)))


def state_of(page: Page, name: str) -> Any:
    return page.locator("#check-rows tr", has=page.locator(f'a:text-is("{name}")')).locator(".badge")


def dispatch() -> int:
    return int(in_thread(lambda: dispatch_notifications.apply().get()))


def test_an_admin_adds_a_check_sees_it_live_through_an_outage_and_its_alert_and_makes_it_public(
    tmp_path: Any, site: LocalServer, backend: LocalServer, webhook: Webhook
) -> None:
    User.objects.create_user("admin", password=ADMIN_PASSWORD, is_staff=True)
    NotificationChannel.objects.create(name="ops webhook", url=webhook.url)
    behind = Check(name="backend", kind="http", target=f"http://127.0.0.1:{backend.port}/health", retries=1)
    behind.full_clean()
    behind.save()
    beat = Beat()
    with daphne_server(env=hub_env(tmp_path)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.add_init_script("document.addEventListener('htmx:wsOpen', () => { window.socketOpen = true; })")
            page.goto(f"{url}/login/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")

            # Add the check from the dashboard's form.
            page.goto(f"{url}/checks/")
            page.get_by_role("link", name="Add a check").click()
            page.fill("#id_name", "site")
            page.select_option("#id_kind", "http")
            page.fill("#id_target", f"http://127.0.0.1:{site.port}/health")
            page.fill("#id_interval", "60")
            page.fill("#id_timeout", "5")
            page.get_by_role("button", name="Add the check").click()
            page.wait_for_url(f"{url}/checks/site/")

            # Its first run turns it green on /checks/, pushed over the socket.
            page.goto(f"{url}/checks/")
            page.wait_for_function("window.socketOpen === true")
            page.evaluate("window.stillTheSamePage = true")
            expect(state_of(page, "site")).to_have_text("unknown")
            assert beat.tick() == 2
            expect(state_of(page, "site")).to_have_text("ok")
            expect(state_of(page, "backend")).to_have_text("ok")

            # The server behind "backend" stops: one failure is within its retry, the second turns it red.
            backend.stop()
            assert beat.tick() == 2
            assert in_thread(lambda: Check.objects.get(name="backend").state) == CheckState.OK
            assert beat.tick() == 2
            expect(state_of(page, "backend")).to_have_text("critical")
            expect(page.locator("#check-rows tr", has_text="backend")).to_contain_text("ConnectError")
            expect(state_of(page, "site")).to_have_text("ok")

            # Its alert is raised and sent through the channel.
            assert in_thread(lambda: list(Alert.objects.firing().values_list("service", flat=True))) == ["backend"]
            assert dispatch() == 1
            assert len(webhook.messages) == 1 and "backend" in webhook.messages[0]["message"]

            # The server comes back: green again, live, the alert resolved and the recovery sent.
            backend.start()
            assert beat.tick() == 2
            expect(state_of(page, "backend")).to_have_text("ok")
            assert in_thread(lambda: Alert.objects.firing().count()) == 0
            assert dispatch() == 1
            assert len(webhook.messages) == 2 and "backend" in webhook.messages[1]["message"]
            assert page.evaluate("window.stillTheSamePage") is True

            # Marked public from its edit form, it is a component of /status/, its outage an incident.
            page.goto(f"{url}/checks/backend/edit/")
            page.check("#id_public")
            page.get_by_role("button", name="Save").click()
            page.wait_for_url(f"{url}/checks/backend/")
            page.goto(f"{url}/status/")
            expect(page.locator("#components h3")).to_have_text(["backend"])
            expect(page.locator("#incidents")).to_contain_text("backend was down")
            assert f"127.0.0.1:{backend.port}" not in page.content()
        finally:
            browser.close()
