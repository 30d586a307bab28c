"""axe-core in a real browser: no WCAG 2 A/AA violation on the public status page or the checks
pages, and the status page updates itself without a reload (no meta refresh)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, sync_playwright

from accounts.roles import VIEWER
from accounts.users import set_password_link
from checks.models import Check, CheckState, Outcome
from conftest import CHROMIUM, hub_env
from statusdash.tests.skips import require_axe
from statusdash.tests.support import daphne_server, user_with_role

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def in_thread(work: Callable[[], Any]) -> None:
    """ORM work while Playwright's loop runs in this thread (Django refuses it here)."""
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def violations(page: Page, axe: str) -> list[str]:
    page.add_script_tag(path=axe)
    found = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_A_AA)
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in found["violations"]]


def public_check(name: str = "website", state: str = CheckState.OK) -> Check:
    check = Check(name=name, kind="http", target="http://127.0.0.1:9/", public=True, retries=0)
    check.full_clean()
    check.save()
    check.record(Outcome(state, "", 42.0))
    return check


def test_the_status_page_has_no_wcag_a_or_aa_violation_and_updates_without_a_reload(tmp_path):
    axe = str(require_axe())
    check = public_check()
    env = hub_env(tmp_path, STATUS_PAGE_CACHE_SECONDS="0", STATUS_PAGE_POLL_SECONDS="2")
    with daphne_server(env=env) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/status/")
            assert page.locator('meta[http-equiv="refresh"]').count() == 0
            assert page.locator("#components h3").all_inner_texts() == ["website"]
            assert violations(page, axe) == []
            page.evaluate("window.stillTheSamePage = true")
            in_thread(lambda: check.record(Outcome(CheckState.CRITICAL, "refused", None)))
            page.wait_for_function("document.querySelector('#overall').textContent.includes('outage')", timeout=10_000)
            assert page.evaluate("window.stillTheSamePage") is True
        finally:
            browser.close()


def test_the_status_page_in_dark_mode_has_no_wcag_a_or_aa_violation(tmp_path):
    axe = str(require_axe())
    public_check("api", CheckState.CRITICAL)
    with daphne_server(env=hub_env(tmp_path)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(color_scheme="dark")
            page.goto(f"{url}/status/")
            assert violations(page, axe) == []
        finally:
            browser.close()


def test_the_checks_pages_have_no_wcag_a_or_aa_violation(tmp_path):
    axe = str(require_axe())
    user_with_role("viewer", VIEWER, password="pw-viewer-123")
    check = public_check("db", CheckState.CRITICAL)
    check.record(Outcome(CheckState.CRITICAL, "connection refused", None), at=timezone.now())
    with daphne_server(env=hub_env(tmp_path)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/login/")
            page.fill("#id_username", "viewer")
            page.fill("#id_password", "pw-viewer-123")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            for path in ("/checks/", "/checks/db/"):
                page.goto(f"{url}{path}")
                assert violations(page, axe) == [], path
        finally:
            browser.close()


def test_the_set_password_pages_have_no_wcag_a_or_aa_violation(tmp_path):
    axe = str(require_axe())
    link = set_password_link(user_with_role("newcomer", VIEWER))
    path = link.split("/", 3)[3]
    with daphne_server(env=hub_env(tmp_path)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/{path}")
            assert page.locator("h1").inner_text() == "Set your password"
            page.fill("#id_new_password1", "123")
            page.fill("#id_new_password2", "123")
            page.click("button[type=submit]")
            assert page.locator("#password2-errors, #password1-errors").count() >= 1
            assert violations(page, axe) == [], "the form with errors"
            page.fill("#id_new_password1", "a-fine-new-password")
            page.fill("#id_new_password2", "a-fine-new-password")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/password/set/done/")
            assert violations(page, axe) == [], "done"
            page.goto(f"{url}/{path}")  # used once: the link no longer works
            assert page.locator("h1").inner_text() == "This link does not work"
            assert violations(page, axe) == [], "the used link"
        finally:
            browser.close()
