"""The wall screen in a real browser: an offline host first, live updates without a reload, a visible drop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from conftest import hub_env
from dashboard.tests.test_browser import chromium, live, make_fleet, post, report
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.support import daphne_server, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def problem_rows(page: Page) -> list[str]:
    return page.locator(".wall-row").evaluate_all("rows => rows.map(r => r.dataset.host)")


def a_fleet_with_db_1_offline(base_url: str) -> tuple[dict[str, str], str]:
    """web-1 and web-2 report now, db-1 went quiet ten minutes ago; returns the agent keys and a read key."""
    keys = make_fleet()
    for name, key in keys.items():
        post(base_url, key, report(datetime.now(UTC), name))
    Host.objects.filter(name="db-1").update(last_seen=datetime.now(UTC) - timedelta(minutes=10))
    return keys, ApiKey.issue(ApiKeyScope.READ, label="lobby screen")[1]


def test_the_wall_shows_an_offline_host_first_and_updates_live(live_hub: str) -> None:
    keys, read_key = a_fleet_with_db_1_offline(live_hub)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{live_hub}/wall/?token={read_key}")
        expect(page.locator(".wall-sentiment")).to_have_class("wall-sentiment sentiment-degraded")
        assert problem_rows(page) == ["db-1"]
        expect(page.locator("[data-section=offline] .wall-row").first).to_have_attribute("data-host", "db-1")
        expect(page.locator(".wall-healthy h2")).to_have_text("2 healthy")
        # Readable from across a room: a host's name is large on a 1080p screen.
        assert float(page.locator(".wall-name").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 40
        expect(page.locator("html")).to_have_class("wall theme-dark")
        live(page)
        page.evaluate("window.notReloaded = true")

        # db-1 comes back: it leaves the offline section without anyone reloading the page.
        post(live_hub, keys["db-1"], report(datetime.now(UTC), "db-1"))
        expect(page.locator(".wall-row")).to_have_count(0, timeout=3000)
        expect(page.locator(".wall-sentiment")).to_have_class("wall-sentiment sentiment-healthy")
        expect(page.locator(".wall-healthy h2")).to_have_text("3 healthy")
        expect(page.locator("#wall-updated")).to_contain_text("s ago")
        assert page.evaluate("window.notReloaded") is True


def test_a_dropped_socket_shows_a_banner_and_the_wall_catches_up(transactional_db: Any, tmp_path: Path) -> None:
    env = hub_env(tmp_path)
    port = free_port()
    keys = make_fleet()  # db-1 never reports until the hub is down: offline
    read_key = ApiKey.issue(ApiKeyScope.READ)[1]
    with chromium() as browser:
        with daphne_server(env=env, port=port) as url:
            for name in ("web-1", "web-2"):
                post(url, keys[name], report(datetime.now(UTC), name))
            page = browser.new_page()
            page.goto(f"{url}/wall/?token={read_key}")
            assert problem_rows(page) == ["db-1"]
            live(page)
            expect(page.locator("#live-state")).to_be_hidden()
        expect(page.locator("#live-state")).to_be_visible(timeout=5000)
        expect(page.locator("#live-state")).to_have_text("Live updates paused: reconnecting…")
        # Meanwhile db-1 reports (through another hub on the same database).
        with daphne_server(env=env) as other:
            post(other, keys["db-1"], report(datetime.now(UTC), "db-1"))
        with daphne_server(env=env, port=port):
            expect(page.locator(".wall-row")).to_have_count(0, timeout=15000)
            expect(page.locator("#live-state")).to_be_hidden()
