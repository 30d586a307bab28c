"""The admin's certificate pages and the host's "make an enrollment token" action."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from hosts import pki
from hosts.models import Certificate, EnrollmentToken, Host
from hosts.tests.conftest import CertMaker, make_csr

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-123456789"))
    return client


def test_certificate_list_shows_expiry(admin_client: Client, certs: CertMaker, cert_host: Host, settings: Any) -> None:
    certs.client("agent-1", days=5)
    page = admin_client.get("/admin/hosts/certificate/").content.decode()
    assert "agent-1" in page
    assert "(renew soon)" in page


def test_host_page_lists_its_certificates(admin_client: Client, certs: CertMaker, cert_host: Host) -> None:
    files = certs.client("agent-1", days=90)
    page = admin_client.get(f"/admin/hosts/host/{cert_host.pk}/change/").content.decode()
    assert pki.serial_hex(files.certificate) in page


def test_make_enrollment_token_action_shows_the_token_once(
    admin_client: Client, ca: pki.CertificateAuthority, cert_host: Host
) -> None:
    response = admin_client.post(
        "/admin/hosts/host/",
        {"action": "make_enrollment_token", "_selected_action": [cert_host.pk]},
        follow=True,
    )
    (message,) = [str(m) for m in response.context["messages"]]
    raw = message.split("--token ")[1].split()[0]
    assert EnrollmentToken.objects.get(host=cert_host).hashed != raw
    record = EnrollmentToken.redeem(raw, make_csr("agent-1"))
    assert record.host == cert_host


def test_revoke_action_revokes_and_writes_the_crl(admin_client: Client, certs: CertMaker, cert_host: Host) -> None:
    files = certs.client("agent-1")
    record = Certificate.objects.get(serial=pki.serial_hex(files.certificate))
    admin_client.post("/admin/hosts/certificate/", {"action": "revoke", "_selected_action": [record.pk]}, follow=True)
    record.refresh_from_db()
    assert record.revocation_reason == "revoked in admin"
    assert pki.crl_path().exists()
