"""The overview's table in a real browser: sorting by a header, filtering, both kept in the URL, live rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from dashboard.paging import PAGE_SIZES
from dashboard.tests.test_browser import chromium, live, log_in, make_fleet, post, report
from hosts.models import ApiKey, ApiKeyScope, Host

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def names(page: Page) -> list[str]:
    return page.locator(".hosts-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.host)")


def test_table_sorts_by_a_header_filters_and_keeps_both_in_the_url(live_hub: str) -> None:
    keys = make_fleet()
    for name, cpu in (("web-1", 20.0), ("web-2", 90.0), ("db-1", 55.0)):
        post(live_hub, keys[name], report(datetime.now(UTC), name, cpu=cpu))
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_hub)
        page.click(".views a[data-view=table]")
        expect(page.locator(".hosts-table tbody tr")).to_have_count(3)
        assert names(page) == ["db-1", "web-1", "web-2"]

        page.click(".hosts-table th a[data-sort=cpu]")
        page.wait_for_url("**/?*sort=cpu*")
        assert names(page) == ["web-2", "db-1", "web-1"]
        page.click(".hosts-table th a[data-sort=cpu]")
        page.wait_for_url("**/?*sort=-cpu*")
        assert names(page) == ["web-1", "db-1", "web-2"]

        page.select_option("#id_tag", "web")
        page.wait_for_url("**/?*tag=web*")
        expect(page.locator(".hosts-table tbody tr")).to_have_count(2)
        assert names(page) == ["web-1", "web-2"]

        page.reload()
        assert names(page) == ["web-1", "web-2"]
        assert "sort=-cpu" in page.url and "view=table" in page.url
        expect(page.locator(".hosts-table th.col-cpu")).to_have_attribute("aria-sort", "ascending")

        # Remembered: the plain overview opens as the table.
        page.goto(f"{live_hub}/")
        expect(page.locator(".hosts-table tbody tr")).to_have_count(3)


def test_a_report_updates_its_table_row_without_reload(live_hub: str) -> None:
    keys = make_fleet()
    for name in keys:
        post(live_hub, keys[name], report(datetime.now(UTC), name, cpu=10.0))
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_hub)
        page.goto(f"{live_hub}/?view=table")
        live(page)
        page.evaluate("window.notReloaded = true")
        post(live_hub, keys["db-1"], report(datetime.now(UTC), "db-1", cpu=87.3))
        expect(page.locator("tr[data-host=db-1] td.cpu")).to_have_text("87.3%", timeout=2000)
        assert page.evaluate("window.notReloaded") is True


def test_a_push_updates_a_row_on_the_page_and_one_on_another_page_is_ignored(live_hub: str) -> None:
    keys = make_fleet()  # db-1, web-1, web-2 sort before the h-... hosts
    hosts = Host.objects.bulk_create([Host(name=f"h-{i:03d}") for i in range(PAGE_SIZES["table"])])
    elsewhere = ApiKey.issue(ApiKeyScope.AGENT, host=hosts[-1])[1]  # the last of 103: page 2
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_hub)
        page.goto(f"{live_hub}/?view=table")
        expect(page.locator(".hosts-table tbody tr")).to_have_count(PAGE_SIZES["table"])
        expect(page.locator(".pager")).to_contain_text("page 1 of 2")
        live(page)
        page.evaluate("window.notReloaded = true; document.getElementById('host-grid').dataset.untouched = '1'")

        post(live_hub, keys["db-1"], report(datetime.now(UTC), "db-1", cpu=87.3))
        expect(page.locator("tr[data-host=db-1] td.cpu")).to_have_text("87.3%", timeout=2000)

        post(live_hub, elsewhere, report(datetime.now(UTC), hosts[-1].name, cpu=50.0))
        # A host on another page is not drawn here, and the grid is not fetched again for it
        # (a refresh would replace #host-grid; the page's script waits 2 s before one).
        page.wait_for_timeout(3000)
        expect(page.locator(f"tr[data-host={hosts[-1].name}]")).to_have_count(0)
        expect(page.locator(".hosts-table tbody tr")).to_have_count(PAGE_SIZES["table"])
        assert page.evaluate("document.getElementById('host-grid').dataset.untouched") == "1"
        assert page.evaluate("window.notReloaded") is True
