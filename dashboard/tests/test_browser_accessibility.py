"""axe-core in a real browser: no WCAG 2 A/AA violation on the public status page, the checks
pages and the API tokens page, and the status page updates itself without a reload (no meta refresh)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, sync_playwright

from accounts.models import PersonalToken
from accounts.roles import ADMIN, OPERATOR, VIEWER
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


def logged_in(page: Page, url: str, username: str, password: str) -> Page:
    page.goto(f"{url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page


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
            # The check's outage is an incident, live too, and the page stays clean with it.
            assert "website is down" in page.locator("#incidents").inner_text()
            assert violations(page, axe) == []
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


def violations_when_logged_in(tmp_path: Any, username: str, password: str, paths: list[str]) -> dict[str, list[str]]:
    """axe's findings on each page, read by a user logged in through the real login form."""
    axe = str(require_axe())
    with daphne_server(env=hub_env(tmp_path)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = logged_in(browser.new_page(), url, username, password)
            found = {}
            for path in paths:
                page.goto(f"{url}{path}")
                found[path] = violations(page, axe)
            return found
        finally:
            browser.close()


def test_the_checks_pages_have_no_wcag_a_or_aa_violation(tmp_path):
    user_with_role("viewer", VIEWER, password="pw-viewer-123")
    check = public_check("db", CheckState.CRITICAL)
    check.record(Outcome(CheckState.CRITICAL, "connection refused", None), at=timezone.now())
    paths = ["/checks/", "/checks/db/"]
    assert violations_when_logged_in(tmp_path, "viewer", "pw-viewer-123", paths) == {path: [] for path in paths}


def test_the_check_form_has_no_wcag_a_or_aa_violation(tmp_path):
    user_with_role("admin", ADMIN, password="pw-admin-123")
    check = public_check("site")
    check.password = "stored-secret"
    check.save()
    paths = ["/add-check/", "/checks/site/edit/"]
    assert violations_when_logged_in(tmp_path, "admin", "pw-admin-123", paths) == {path: [] for path in paths}


def authenticator_code(secret: str) -> str:
    """The code an authenticator app shows for the secret typed from the page (no ORM here)."""
    from base64 import b32decode

    from django_otp.oath import TOTP

    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{TOTP(key).token():06d}"


def test_the_log_in_steps_and_two_factor_pages_have_no_wcag_a_or_aa_violation(tmp_path):
    """Also the two-factor set-up as a person does it: QR page, confirm, recovery codes, code step."""
    axe = str(require_axe())
    user_with_role("viewer", VIEWER, password="pw-viewer-123")
    # A provider that is never asked: the SSO button and the refusal page need only the settings.
    sso = {"OIDC_ISSUER": "http://127.0.0.1:9", "OIDC_CLIENT_ID": "statusdash", "OIDC_CLIENT_SECRET": "x"}
    with daphne_server(env=hub_env(tmp_path, **sso)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            for path in ("/login/", "/login/sso-refused/"):
                page.goto(f"{url}{path}")
                assert violations(page, axe) == [], path
            page.goto(f"{url}/login/")
            page.fill("#id_username", "viewer")
            page.fill("#id_password", "pw-viewer-123")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            page.get_by_role("link", name="Two-factor").click()
            assert violations(page, axe) == [], "two-factor, off"
            page.get_by_role("button", name="Set up an authenticator").click()
            assert page.locator(".qr svg").count() == 1
            assert violations(page, axe) == [], "two-factor, QR code"
            page.fill("#confirm-code", authenticator_code(page.locator("#totp-secret").inner_text()))
            page.get_by_role("button", name="Confirm").click()
            recovery = page.locator(".recovery-codes li").all_inner_texts()
            assert len(recovery) == 10
            assert violations(page, axe) == [], "two-factor, recovery codes"
            page.get_by_role("button", name="Log out viewer").click()
            page.fill("#id_username", "viewer")
            page.fill("#id_password", "pw-viewer-123")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/login/code/")
            assert violations(page, axe) == [], "code step"
            page.fill("#id_code", recovery[0])
            page.get_by_role("button", name="Verify").click()
            page.wait_for_url(f"{url}/")
        finally:
            browser.close()


def test_the_api_tokens_page_has_no_wcag_a_or_aa_violation(tmp_path):
    """The list, the form, and the page that shows a new token once."""
    axe = str(require_axe())
    user = user_with_role("olga", OPERATOR, password="pw-olga-12345")
    PersonalToken.issue(user, "backup", "viewer")
    revoked, _ = PersonalToken.issue(user, "old", "operator")
    revoked.revoke()
    with daphne_server(env=hub_env(tmp_path)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/login/")
            page.fill("#id_username", "olga")
            page.fill("#id_password", "pw-olga-12345")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            page.goto(f"{url}/account/tokens/")
            assert violations(page, axe) == [], "list"
            page.fill("#id_name", "grafana")
            page.click("form.panel button[type=submit]")
            assert page.locator("#new-token").inner_text().startswith("sdp_")
            assert violations(page, axe) == [], "new token shown"
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
