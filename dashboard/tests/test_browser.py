"""The dashboard in a real browser: Debian's chromium through Playwright, against a real Daphne.

Set STATUSDASH_SCREENSHOTS=docs/screenshots to save the overview and a host page,
light and dark, the table, the grouped overview and the wall screen (that is how the pictures
in the README are made).

Playwright's sync API runs an event loop in this thread, so Django's ORM refuses
to run inside it: each test prepares the database first and then talks to the hub
over HTTP only, as an agent and a user would.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from accounts.roles import VIEWER
from alerts.models import Alert
from conftest import CHROMIUM, hub_env
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.skips import on_request_only_for_screenshots
from statusdash.tests.support import daphne_server, free_port, sample_report, user_with_role

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "pw-viewer-123"
SCREENSHOTS = os.environ.get("STATUSDASH_SCREENSHOTS", "")


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Started inside each test, after its database setup (see the module docstring)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        yield browser
        browser.close()


def make_fleet() -> dict[str, str]:
    """A user and three hosts with agent keys; returns {host name: raw key}."""
    user_with_role("viewer", VIEWER, password=PASSWORD)
    keys = {}
    for name, tags in (("web-1", ["prod", "web"]), ("web-2", ["prod", "web"]), ("db-1", ["prod", "db"])):
        host = Host.objects.create(name=name, tags=tags)
        keys[name] = ApiKey.issue(ApiKeyScope.AGENT, host=host)[1]
    return keys


def report(when: datetime, host: str, cpu: float | None = None) -> dict[str, Any]:
    data = sample_report(when, seed=int(when.timestamp()) ^ hash(host))
    # A gentle daily-looking curve reads better in the charts than noise.
    wave = 35 + 25 * __import__("math").sin(when.timestamp() / 600 + len(host))
    data["cpu"]["percent"] = round(cpu if cpu is not None else wave + random.uniform(0, 8), 1)
    data["system"]["hostname"] = host
    return data


def post(base_url: str, key: str, body: dict[str, Any]) -> None:
    response = requests.post(
        f"{base_url}/api/metrics/report",
        data=gzip.compress(json.dumps(body).encode()),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def report_history(base_url: str, keys: dict[str, str], minutes: int = 60) -> None:
    now = datetime.now(UTC)
    for name, key in keys.items():
        reports = [report(now - timedelta(seconds=30 * i), name) for i in range(minutes * 2, -1, -1)]
        post(base_url, key, {"reports": reports})


def log_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("#id_username", "viewer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def live(page: Page) -> None:
    """Wait until the page's WebSocket is open (the ws extension sets up after load)."""
    page.wait_for_function(
        "() => document.querySelector('[data-live]') && window.htmx && document.readyState === 'complete'"
    )
    page.wait_for_timeout(300)


def test_logged_out_visitor_is_sent_to_login(live_hub: str) -> None:
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{live_hub}/hosts/web-1/")
        assert page.url == f"{live_hub}/login/?next=/hosts/web-1/"
        expect(page.get_by_label("Username")).to_be_visible()


def test_wrong_password_is_refused(live_hub: str) -> None:
    user_with_role("viewer", VIEWER, password=PASSWORD)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{live_hub}/login/")
        page.fill("#id_username", "viewer")
        page.fill("#id_password", "not-the-password")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("correct username and password")
        assert page.url.startswith(f"{live_hub}/login/")


def test_cards_show_and_a_report_updates_its_card_without_reload(live_hub: str) -> None:
    keys = make_fleet()
    report_history(live_hub, keys, minutes=2)
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_hub)
        expect(page.locator("article.card")).to_have_count(3)
        expect(page.locator("[data-host=web-1] .badge")).to_have_text("online")
        live(page)
        page.evaluate("window.notReloaded = true")

        post(live_hub, keys["web-1"], report(datetime.now(UTC), "web-1", cpu=87.3))
        expect(page.locator("[data-host=web-1] .cpu .value")).to_have_text("87.3%", timeout=1000)
        assert page.evaluate("window.notReloaded") is True


def test_host_page_draws_a_chart_and_appends_live(live_hub: str) -> None:
    keys = make_fleet()
    report_history(live_hub, keys, minutes=60)
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_hub)
        page.goto(f"{live_hub}/hosts/web-1/")
        canvas = page.locator("#chart-cpu canvas")
        expect(canvas).to_be_visible()
        painted = page.evaluate(
            """() => { const c = document.querySelector('#chart-cpu canvas');
                       const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                       let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
        )
        assert painted > 500
        expect(page.locator("#chart-cpu + table")).to_contain_text("total")
        live(page)
        newest = datetime.now(UTC) + timedelta(seconds=30)
        post(live_hub, keys["web-1"], report(newest, "web-1", cpu=66.6))
        expect(page.locator("#host-summary .cpu .value")).to_have_text("66.6%", timeout=1000)
        expect(page.locator("#chart-cpu")).to_have_attribute("data-last", str(int(newest.timestamp())), timeout=1000)


def test_filter_narrows_the_grid_and_survives_reload(live_hub: str) -> None:
    keys = make_fleet()
    report_history(live_hub, keys, minutes=1)
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_hub)
        expect(page.locator("article.card")).to_have_count(3)
        page.select_option("#id_tag", "db")
        expect(page.locator("article.card")).to_have_count(1)
        page.wait_for_url(f"{live_hub}/?*tag=db*")
        page.reload()
        expect(page.locator("article.card")).to_have_count(1)
        expect(page.locator("[data-host=db-1]")).to_be_visible()
        assert page.locator("#id_tag").input_value() == "db"


@on_request_only_for_screenshots(bool(SCREENSHOTS))
def test_save_screenshots(live_hub: str) -> None:
    keys = make_fleet()
    more = {}
    # A dozen hosts across a few tags, some in two: what the table and the grouped overview show.
    for name, tags in (
        ("cache-1", ["prod"]),
        ("ci-runner", ["ci"]),
        ("backup-1", ["ops"]),
        ("web-3", ["staging", "web"]),
        ("db-2", ["staging", "db"]),
        ("ci-runner-2", ["ci"]),
        ("monitor", ["ops", "prod"]),
        ("edge-1", ["edge", "prod"]),
        ("lab-pi", []),
    ):
        host = Host.objects.create(name=name, tags=tags)
        more[name] = ApiKey.issue(ApiKeyScope.AGENT, host=host)[1]
    report_history(live_hub, keys, minutes=60)
    report_history(live_hub, {"cache-1": more["cache-1"]}, minutes=5)
    for name in ("web-3", "db-2", "ci-runner-2", "monitor", "edge-1", "lab-pi"):
        post(live_hub, more[name], report(datetime.now(UTC), name))
    post(live_hub, more["ci-runner"], report(datetime.now(UTC) - timedelta(seconds=40), "ci-runner", cpu=96.0))
    post(live_hub, more["backup-1"], report(datetime.now(UTC) - timedelta(minutes=20), "backup-1", cpu=3.0))
    # Statuses and alerts as a real fleet has them (the ORM is fine before the browser starts).
    Host.objects.filter(name="ci-runner").update(last_seen=datetime.now(UTC) - timedelta(seconds=45))
    Host.objects.filter(name="backup-1").update(last_seen=datetime.now(UTC) - timedelta(minutes=20))
    Alert.objects.fire("cpu_high", host=Host.objects.get(name="ci-runner"), message="CPU at 96% for 5 minutes")
    # The wall: backup-1 offline, ci-runner firing, cache-1 stale (taken first, before it turns offline).
    Host.objects.filter(name="cache-1").update(last_seen=datetime.now(UTC) - timedelta(seconds=35))
    wall_key = ApiKey.issue(ApiKeyScope.READ, label="wall screen")[1]
    out = Path(SCREENSHOTS)
    with chromium() as browser:
        out.mkdir(parents=True, exist_ok=True)
        screen = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = screen.new_page()
        page.goto(f"{live_hub}/wall/?token={wall_key}")
        page.screenshot(path=str(out / "wall.png"))
        screen.close()
        for scheme in ("light", "dark"):
            context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 860})
            page = context.new_page()
            log_in(page, live_hub)
            page.screenshot(path=str(out / f"overview-{scheme}.png"), full_page=True)
            page.goto(f"{live_hub}/hosts/web-1/")
            page.wait_for_selector("#chart-cpu canvas")
            page.screenshot(path=str(out / f"host-{scheme}.png"), full_page=True)
            context.close()
        # The table, and the table grouped by tag (each picked by its link, as a user would).
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        log_in(page, live_hub)
        page.click(".views a[data-view=table]")
        page.wait_for_url("**/?*view=table*")
        page.screenshot(path=str(out / "overview-table.png"), full_page=True)
        page.click(".views a[data-group=tag]")
        page.wait_for_url("**/?*group=tag*")
        page.click("details[data-group=staging] > summary")  # one group collapsed
        page.screenshot(path=str(out / "overview-grouped.png"), full_page=True)
        context.close()
        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
        page = phone.new_page()
        log_in(page, live_hub)
        page.screenshot(path=str(out / "overview-phone.png"), full_page=False)
        phone.close()


def test_page_reconnects_after_a_restart_and_catches_up(transactional_db: Any, tmp_path: Path) -> None:
    keys = make_fleet()
    env = hub_env(tmp_path)
    port = free_port()
    with chromium() as browser:
        with daphne_server(env=env, port=port) as url:
            report_history(url, keys, minutes=1)
            page = browser.new_page()
            log_in(page, url)
            live(page)
            # However long the hub was away, the page tries again within 5 s of its return.
            assert max(page.evaluate("[0, 3, 10, 50].map(htmx.config.wsReconnectDelay)")) <= 5000
        # The hub is down: a report arrives meanwhile (through another hub on the same database).
        with daphne_server(env=env) as other:
            post(other, keys["db-1"], report(datetime.now(UTC), "db-1", cpu=42.4))
        expect(page.locator("#live-state")).to_be_visible()
        with daphne_server(env=env, port=port):
            expect(page.locator("[data-host=db-1] .cpu .value")).to_have_text("42.4%", timeout=15000)
            expect(page.locator("#live-state")).to_be_hidden()
