""" "Add host": the form, the one-time token and the line it is shown in, and the status that
flips from waiting to connected when the host's first report arrives."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.roles import VIEWER
from hosts import agent_dist, pki, vault
from hosts.models import ApiKey, ApiKeyScope, EnrollmentToken, Host, hash_key
from statusdash.tests.support import sample_report, user_with_role

pytestmark = pytest.mark.django_db
URL = "/add-host/"


@pytest.fixture
def admin(client: Client, ca: pki.CertificateAuthority, settings: Any) -> Client:
    settings.PUBLIC_URL = "https://status.example.internal:5000"
    client.force_login(User.objects.create_user("root", password="pw-123456789", is_staff=True))
    return client


def add(client: Client, **fields: Any) -> Any:
    return client.post(URL, {"name": "web-7", "tags": "prod, web", "hours": 1, **fields})


def token_in(page: str) -> str:
    match = re.search(r"--token (sde_[A-Za-z0-9_-]+) --name", page)
    assert match, page
    return match.group(1)


def test_add_host_creates_the_host_and_a_one_time_token_in_the_line(admin: Client) -> None:
    response = add(admin)
    assert response.status_code == 201
    page = response.content.decode()
    host = Host.objects.get(name="web-7")
    assert host.tags == ["prod", "web"]
    token = EnrollmentToken.objects.get(host=host)
    assert token.hashed == hash_key(token_in(page))
    assert timedelta(minutes=59) < token.expires_at - timezone.now() <= timedelta(hours=1)
    assert (
        "curl -fsSL https://status.example.internal:5000/agent/install.sh | sudo sh -s -- --token "
        f"{token_in(page)} --name web-7" in page
    )
    assert "waiting for the first report…" in page


def test_the_token_lifetime_defaults_to_the_setting(admin: Client, settings: Any) -> None:
    settings.ENROLLMENT_TOKEN_HOURS = 5
    assert 'name="hours" value="5"' in admin.get(URL).content.decode()
    add(admin, hours=3)
    token = EnrollmentToken.objects.get()
    assert timedelta(hours=2, minutes=59) < token.expires_at - timezone.now() <= timedelta(hours=3)


def test_with_the_hubs_own_server_certificate_curl_pins_its_key(admin: Client) -> None:
    vault.issue_server_certificate([])
    page = add(admin).content.decode()
    pin = agent_dist.server_key_pin()
    assert pin and pin.startswith("sha256//")
    assert (
        f"curl -fsSL -k --pinnedpubkey &#x27;{pin}&#x27; https://status.example.internal:5000/agent/install.sh" in page
    )


def test_the_separate_steps_check_sha256sums_and_show_the_ca_fingerprint(
    admin: Client, ca: pki.CertificateAuthority
) -> None:
    page = add(admin).content.decode()
    assert "sha256sum --ignore-missing -c SHA256SUMS" in page
    assert f"sudo sh install.sh --token {token_in(page)} --name web-7" in page
    assert agent_dist.ca_fingerprint(ca.certificate) in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "Web_7"}, "name", "A host name is 1 to 63 characters"),
        ({"name": ""}, "name", "This field is required"),
        ({"name": "a" * 64}, "name", "at most 63 characters"),
        ({"tags": "ok, " + "x" * 41}, "tags", "Each tag must be 1 to 40 characters"),
        ({"hours": 0}, "hours", "greater than or equal to 1"),
        ({"hours": "soon"}, "hours", "Enter a whole number"),
    ],
)
def test_bad_input_is_a_form_error_naming_the_field(admin: Client, fields: dict, field: str, message: str) -> None:
    response = add(admin, **fields)
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert not Host.objects.exists()
    assert not EnrollmentToken.objects.exists()


def test_an_existing_name_is_refused(admin: Client) -> None:
    Host.objects.create(name="web-7")
    response = add(admin)
    assert response.status_code == 400
    assert "A host named &#x27;web-7&#x27; already exists." in response.content.decode()
    assert not EnrollmentToken.objects.exists()


def test_only_admins_may_add_hosts(client: Client, ca: pki.CertificateAuthority) -> None:
    assert client.get(URL).status_code == 302  # to the log-in
    client.force_login(user_with_role("viewer", VIEWER))
    assert client.get(URL).status_code == 403
    assert add(client).status_code == 403
    assert not Host.objects.exists()


def test_without_a_ca_the_page_says_how_to_make_one(client: Client, vault_dir: Any) -> None:
    client.force_login(User.objects.create_user("root", password="pw-123456789", is_staff=True))
    response = add(client)
    assert response.status_code == 503
    assert "make certs" in response.content.decode()
    assert not Host.objects.exists()


def test_status_waits_then_shows_cpu_and_version_after_the_first_report(
    admin: Client, django_capture_on_commit_callbacks: Any
) -> None:
    add(admin)
    host = Host.objects.get(name="web-7")
    waiting = admin.get(f"/add-host/{host.name}/status/", HTTP_HX_REQUEST="true").content.decode()
    assert "waiting for the first report…" in waiting
    assert 'hx-trigger="every 3s"' in waiting

    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    report = sample_report(host="web-7")
    report["cpu"]["percent"] = 12.4
    with django_capture_on_commit_callbacks(execute=True):  # the latest-metrics cache is filled on commit
        sent = Client().post(
            "/api/metrics/report", report, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
    assert sent.status_code == 202, sent.content

    connected = admin.get(f"/add-host/{host.name}/status/", HTTP_HX_REQUEST="true").content.decode()
    assert "connected: CPU 12 %, agent 1.0.0" in connected
    assert "hx-trigger" not in connected  # the poll stops itself


def test_status_of_an_unknown_host_is_a_404(admin: Client) -> None:
    assert admin.get("/add-host/nope/status/").status_code == 404
