"""POST /api/enroll: one token, one CSR, one certificate; every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from cryptography import x509
from django.test import Client
from django.utils import timezone

from hosts import pki
from hosts.models import Certificate, EnrollmentToken, Host
from hosts.tests.conftest import make_csr

pytestmark = pytest.mark.django_db


def enroll(client: Client, body: Any) -> Any:
    return client.post("/api/enroll", body, content_type="application/json")


@pytest.fixture
def token(ca: pki.CertificateAuthority, cert_host: Host) -> str:
    return EnrollmentToken.issue(cert_host)[1]


def test_enrollment_signs_the_csr_for_the_tokens_host(client: Client, token: str, cert_host: Host) -> None:
    csr = make_csr("agent-1")
    response = enroll(client, {"token": token, "csr": csr})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["host"] == "agent-1"
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert cert.public_key() == x509.load_pem_x509_csr(csr.encode()).public_key()
    assert x509.load_pem_x509_certificate(body["ca"].encode()) == pki.CertificateAuthority.load().certificate
    record = Certificate.objects.check_client(cert)
    assert record.host == cert_host
    assert EnrollmentToken.objects.get().certificate == record


def test_a_used_token_is_refused(client: Client, token: str) -> None:
    assert enroll(client, {"token": token, "csr": make_csr("agent-1")}).status_code == 201
    response = enroll(client, {"token": token, "csr": make_csr("agent-1")})
    assert response.status_code == 403
    assert "already used" in response.json()["detail"]
    assert Certificate.objects.clients().count() == 1


def test_an_expired_token_is_refused(client: Client, token: str) -> None:
    with time_machine.travel(timezone.now() + timedelta(hours=EnrollmentToken.DEFAULT_HOURS, minutes=1)):
        response = enroll(client, {"token": token, "csr": make_csr("agent-1")})
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]
    assert not Certificate.objects.clients().exists()


def test_a_wrong_token_is_refused(client: Client, token: str) -> None:
    response = enroll(client, {"token": token + "x", "csr": make_csr("agent-1")})
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown enrollment token"}


def test_a_csr_for_another_host_is_refused_and_the_token_kept(client: Client, token: str) -> None:
    response = enroll(client, {"token": token, "csr": make_csr("db-1")})
    assert response.status_code == 400
    assert response.json()["detail"] == "csr: CN 'db-1' does not match the token's host 'agent-1'"
    assert EnrollmentToken.objects.get().used_at is None
    assert enroll(client, {"token": token, "csr": make_csr("agent-1")}).status_code == 201


def test_a_token_for_a_disabled_host_is_refused(client: Client, token: str, cert_host: Host) -> None:
    Host.objects.filter(pk=cert_host.pk).update(enabled=False)
    response = enroll(client, {"token": token, "csr": make_csr("agent-1")})
    assert response.status_code == 403
    assert "disabled" in response.json()["detail"]


@pytest.mark.parametrize(
    ("csr", "message"),
    [
        ("hello", "not a PEM certificate signing request"),
        (make_csr(None), "no common name"),
    ],
)
def test_a_bad_csr_is_a_422_naming_the_field(client: Client, token: str, csr: str, message: str) -> None:
    response = enroll(client, {"token": token, "csr": csr})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "csr"]
    assert message in error["msg"]
    assert EnrollmentToken.objects.get().used_at is None


@pytest.mark.parametrize("missing", ["token", "csr"])
def test_a_missing_field_is_a_422_naming_it(client: Client, token: str, missing: str) -> None:
    body = {"token": token, "csr": make_csr("agent-1")}
    del body[missing]
    response = enroll(client, body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"][0], error["loc"][-1], error["type"]) == ("body", missing, "missing")


def test_enrollment_without_a_ca_is_a_503_naming_the_command(client: Client, vault_dir: Any, cert_host: Host) -> None:
    _, raw = EnrollmentToken.issue(cert_host)
    response = enroll(client, {"token": raw, "csr": make_csr("agent-1")})
    assert response.status_code == 503
    assert "certs init-ca" in response.json()["detail"]
    assert EnrollmentToken.objects.get().used_at is None
