"""The overview grouped by tag in a real browser: groups collapse, their status, live pushes into every group."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from dashboard.groups import dom_key
from dashboard.tests.test_browser import chromium, live, log_in, make_fleet, post, report

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_groups_collapse_and_show_their_status(live_hub: str) -> None:
    keys = make_fleet()  # web-1, web-2: prod and web; db-1: prod and db
    for name in ("web-1", "web-2"):
        post(live_hub, keys[name], report(datetime.now(UTC), name, cpu=10.0))
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_hub)
        page.click(".views a[data-group=tag]")
        page.wait_for_url("**/?*group=tag*")
        expect(page.locator("details.host-group")).to_have_count(3)
        assert page.locator("details.host-group").evaluate_all("ds => ds.map(d => d.dataset.group)") == [
            "db",
            "prod",
            "web",
        ]
        expect(page.locator("details[data-group=prod] article.card")).to_have_count(3)
        expect(page.locator("details[data-group=web] article.card")).to_have_count(2)
        expect(page.locator(f"#group-status-{dom_key('prod')}")).to_have_attribute("data-worst", "offline")
        expect(page.locator(f"#group-status-{dom_key('prod')}")).to_contain_text("1 offline · 2 online")
        expect(page.locator(f"#group-status-{dom_key('web')}")).to_have_attribute("data-worst", "online")

        page.click("details[data-group=web] > summary")
        expect(page.locator("details[data-group=web] article.card").first).to_be_hidden()
        expect(page.locator("details[data-group=prod] article.card").first).to_be_visible()
        page.click("details[data-group=web] > summary")
        expect(page.locator("details[data-group=web] article.card").first).to_be_visible()

        # Remembered, and kept by the filter form: the plain overview opens grouped.
        page.goto(f"{live_hub}/")
        expect(page.locator("details.host-group")).to_have_count(3)
        page.select_option("#id_status", "online")
        page.wait_for_url("**/?*status=online*")
        expect(page.locator("details[data-group=prod] article.card")).to_have_count(2)
        expect(page.locator("details[data-group=db]")).to_have_count(0)


def test_a_push_updates_the_host_in_every_group_and_the_groups_status(live_hub: str) -> None:
    keys = make_fleet()
    for name in ("web-1", "web-2"):
        post(live_hub, keys[name], report(datetime.now(UTC), name, cpu=10.0))
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_hub)
        page.goto(f"{live_hub}/?group=tag&view=table")
        live(page)
        page.evaluate("window.notReloaded = true")
        post(live_hub, keys["web-1"], report(datetime.now(UTC), "web-1", cpu=87.3))
        for group in ("prod", "web"):
            expect(page.locator(f"details[data-group={group}] tr[data-host=web-1] td.cpu")).to_have_text(
                "87.3%", timeout=2000
            )
        # db-1 reports for the first time: its groups turn online within the status watch's period.
        post(live_hub, keys["db-1"], report(datetime.now(UTC), "db-1", cpu=20.0))
        expect(page.locator(f"#group-status-{dom_key('db')}")).to_have_attribute("data-worst", "online", timeout=5000)
        expect(page.locator(f"#group-status-{dom_key('prod')}")).to_contain_text("3 online")
        expect(page.locator("details[data-group=db] tr[data-host=db-1] .badge")).to_have_text("online")
        assert page.evaluate("window.notReloaded") is True
