"""Single sign-on in a real browser against a real OpenID Connect provider (oidc-provider on node).

The hub and the provider both run on 127.0.0.1 on free ports; the browser may reach nothing
else (the provider's development pages ask for a web font: refused here). The database is
read after the browser has closed (Playwright's event loop forbids the ORM meanwhile).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from playwright.sync_api import BrowserContext, Page, Route, expect

from accounts.models import SsoIdentity
from accounts.roles import ADMIN, OPERATOR, role_of
from accounts.tests.oidc_support import hub_sso_env, oidc_provider
from conftest import hub_env
from dashboard.tests.test_browser import chromium
from statusdash.tests.support import daphne_server, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def loopback_only(context: BrowserContext) -> None:
    def route(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)


def sign_in_at_provider(page: Page, hub: str, login: str) -> None:
    """From the hub's log-in page: SSO, the provider's log-in and consent pages, back to the hub."""
    page.goto(f"{hub}/login/")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password: the provider's development log-in")
    page.click("button[type=submit]")
    page.get_by_role("button", name="Continue").click()  # the provider's consent page
    page.wait_for_url(f"{hub}/**")


@pytest.fixture
def sso_hub(transactional_db: Any, tmp_path: Any) -> Any:
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    with (
        oidc_provider(hub_url) as issuer,
        daphne_server(env=hub_env(tmp_path, **hub_sso_env(issuer, hub_url)), port=port),
    ):
        yield hub_url


@pytest.fixture
def sso_only_hub(transactional_db: Any, tmp_path: Any) -> Any:
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    env = hub_env(tmp_path, **hub_sso_env("", hub_url, PASSWORD_LOGIN="false"))
    with oidc_provider(hub_url) as issuer, daphne_server(env={**env, "OIDC_ISSUER": issuer}, port=port):
        yield hub_url


def test_sso_log_in_lands_on_the_dashboard_with_the_role_from_the_claim(sso_hub: str) -> None:
    with chromium() as browser:
        context = browser.new_context()
        loopback_only(context)
        page = context.new_page()
        sign_in_at_provider(page, sso_hub, "alice")
        assert page.url == f"{sso_hub}/"
        expect(page.get_by_role("button", name="Log out alice")).to_be_visible()
        # An operator's controls: adding a host, and the admin site for what an operator may do there.
        expect(page.get_by_role("link", name="Add host")).to_be_visible()
        context.close()
    alice = User.objects.get(username="alice")
    assert role_of(alice) == OPERATOR
    assert SsoIdentity.objects.get(user=alice).subject == "alice"
    assert not alice.has_usable_password()


def test_an_admin_by_claim_reaches_the_admin_site_without_a_password(sso_hub: str) -> None:
    with chromium() as browser:
        context = browser.new_context()
        loopback_only(context)
        page = context.new_page()
        sign_in_at_provider(page, sso_hub, "boss")
        page.get_by_role("link", name="Admin").click()
        expect(page).to_have_url(f"{sso_hub}/admin/")
        context.close()
    assert role_of(User.objects.get(username="boss")) == ADMIN


def test_sso_log_in_whose_claim_maps_to_no_role_is_refused(sso_hub: str) -> None:
    with chromium() as browser:
        context = browser.new_context()
        loopback_only(context)
        page = context.new_page()
        sign_in_at_provider(page, sso_hub, "mallory")
        assert page.url == f"{sso_hub}/login/sso-refused/"
        expect(page.get_by_role("alert")).to_contain_text("gives you no role on this hub")
        page.goto(f"{sso_hub}/")
        assert page.url.startswith(f"{sso_hub}/login/")
        context.close()
    assert not User.objects.filter(username="mallory").exists()


def test_with_password_log_in_off_the_form_is_gone_and_posting_to_it_is_refused(sso_only_hub: str) -> None:
    User.objects.create_user("local", password="a-long-password")
    with chromium() as browser:
        context = browser.new_context()
        loopback_only(context)
        page = context.new_page()
        for path in ("/login/", "/admin/login/"):
            page.goto(f"{sso_only_hub}{path}")
            expect(page.get_by_role("link", name="Sign in with SSO")).to_be_visible()
            expect(page.locator("#id_password")).to_have_count(0)
        sign_in_at_provider(page, sso_only_hub, "walter")
        expect(page.get_by_role("button", name="Log out walter")).to_be_visible()
        context.close()

    session = requests.Session()
    session.get(f"{sso_only_hub}/login/", timeout=10)
    refused = session.post(
        f"{sso_only_hub}/login/",
        {"username": "local", "password": "a-long-password", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{sso_only_hub}/login/"},
        timeout=10,
    )
    assert refused.status_code == 403 and "Password log-in is off" in refused.text
    assert "sessionid" not in session.cookies
    token = requests.post(
        f"{sso_only_hub}/api/auth/token", json={"username": "local", "password": "a-long-password"}, timeout=10
    )
    assert token.status_code == 403 and "PASSWORD_LOGIN" in token.json()["detail"]
