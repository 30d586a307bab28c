"""Host and key management in the Django admin."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from hosts.models import ApiKey, ApiKeyScope, Certificate, Host


@pytest.fixture
def admin_client_logged_in(client: Client, admin_user: User) -> Client:
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_adding_a_key_shows_the_secret_once(admin_client_logged_in: Client, host: Host) -> None:
    response = admin_client_logged_in.post(
        "/admin/hosts/apikey/add/",
        {"scope": "agent", "host": host.pk, "service": "", "label": "from the admin"},
        follow=True,
    )
    assert response.status_code == 200
    raw = re.search(r"(sd_[A-Za-z0-9_-]{40,})", response.content.decode())
    assert raw is not None, "the new key is shown"
    key = ApiKey.objects.find(raw.group(1))
    assert key is not None and key.host == host and key.scope == ApiKeyScope.AGENT
    again = admin_client_logged_in.get(f"/admin/hosts/apikey/{key.pk}/change/")
    assert raw.group(1) not in again.content.decode()


@pytest.mark.django_db
def test_agent_key_without_a_host_is_refused(admin_client_logged_in: Client) -> None:
    response = admin_client_logged_in.post("/admin/hosts/apikey/add/", {"scope": "agent", "host": "", "label": "x"})
    assert response.status_code == 200  # the form again, with the error
    assert ApiKey.objects.count() == 0
    assert "An agent key needs a host" in response.content.decode()


@pytest.mark.django_db
def test_revoke_action(admin_client_logged_in: Client, agent_key: str) -> None:
    key = ApiKey.objects.find(agent_key)
    assert key is not None
    admin_client_logged_in.post("/admin/hosts/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    key.refresh_from_db()
    assert key.is_revoked


@pytest.mark.django_db
def test_host_with_an_invalid_name_is_refused(admin_client_logged_in: Client) -> None:
    response = admin_client_logged_in.post(
        "/admin/hosts/host/add/",
        {
            "name": "Not Valid!",
            "display_name": "",
            "description": "",
            "tags": "[]",
            "enabled": "on",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert not Host.objects.exists()
    assert "1 to 63 characters" in response.content.decode()


@pytest.mark.django_db
def test_host_list_renders_names_escaped(admin_client_logged_in: Client) -> None:
    Host.objects.create(name="web-2", display_name="<script>alert(1)</script>")
    page = admin_client_logged_in.get("/admin/hosts/host/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def host_form(name: str) -> dict[str, str]:
    return {
        "name": name,
        "display_name": "",
        "description": "",
        "tags": "[]",
        "enabled": "on",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "certificates-TOTAL_FORMS": "0",
        "certificates-INITIAL_FORMS": "0",
    }


def test_renaming_a_host_in_the_admin_warns_that_its_certificates_were_revoked(
    admin_client_logged_in: Client, certs: Any, cert_host: Host
) -> None:
    certs.client("agent-1")
    response = admin_client_logged_in.post(
        f"/admin/hosts/host/{cert_host.pk}/change/", host_form("agent-7"), follow=True
    )
    assert response.status_code == 200
    assert Host.objects.get(pk=cert_host.pk).name == "agent-7"
    assert "revoked 1 certificate(s) issued for agent-1" in response.content.decode()
    assert Certificate.objects.get(common_name="agent-1").revoked_at is not None


def test_deleting_a_host_in_the_admin_warns_that_its_certificates_were_revoked(
    admin_client_logged_in: Client, certs: Any, cert_host: Host
) -> None:
    certs.client("agent-1")
    response = admin_client_logged_in.post(
        "/admin/hosts/host/",
        {"action": "delete_selected", "_selected_action": [cert_host.pk], "post": "yes"},
        follow=True,
    )
    assert not Host.objects.exists()
    assert "Deleting revoked 1 certificate(s)" in response.content.decode()


@pytest.mark.django_db
def test_a_new_enrollment_token_never_travels_in_a_cookie(admin_client_logged_in: Client, host: Host) -> None:
    response = admin_client_logged_in.post(
        "/admin/hosts/host/", {"action": "make_enrollment_token", "_selected_action": [host.pk]}
    )
    assert response.status_code == 302
    cookies = " ".join(morsel.value for morsel in response.cookies.values())
    assert "messages" not in response.cookies
    shown = admin_client_logged_in.get(response["Location"]).content.decode()
    token = re.search(r"--token ([A-Za-z0-9_-]{20,})", shown)
    assert token is not None, "the token is shown once, on the next page"
    assert token.group(1) not in cookies
    assert token.group(1) not in admin_client_logged_in.get("/admin/hosts/host/").content.decode()
