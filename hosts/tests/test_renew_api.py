"""POST /api/agent/renew: an agent's current certificate buys its successor, for a new key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.test import Client
from django.utils import timezone

from hosts import pki
from hosts.identity import identify_agent
from hosts.models import Certificate, Host, RenewalRefused
from hosts.tests.conftest import CertMaker, ClientFiles, make_csr
from hosts.tests.test_identity import tls_request

pytestmark = pytest.mark.django_db
URL = "/api/agent/renew"


@pytest.fixture
def mtls(settings: Any) -> None:
    settings.MTLS_ENABLED = True
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's address: it stands in for nginx


def as_agent(files: ClientFiles | None) -> dict[str, str]:
    """The headers nginx forwards for a client certificate it verified."""
    if files is None:
        return {}
    return {"HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS", "HTTP_X_SSL_CLIENT_CERT": quote(pki.cert_pem(files.certificate))}


def renew(client: Client, files: ClientFiles | None, body: Any, **headers: str) -> Any:
    return client.post(URL, body, content_type="application/json", **as_agent(files), **headers)


def record_of(files: ClientFiles) -> Certificate:
    return Certificate.objects.get(serial=pki.serial_hex(files.certificate))


def test_renewal_signs_a_new_key_for_the_same_host(
    client: Client, certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    current = certs.client("agent-1")
    csr = make_csr("agent-1")
    response = renew(client, current, {"csr": csr})
    assert response.status_code == 201, response.json()
    assert response.json()["host"] == "agent-1"
    new = x509.load_pem_x509_certificate(response.json()["certificate"].encode())
    assert new.public_key() == x509.load_pem_x509_csr(csr.encode()).public_key()
    record = Certificate.objects.check_client(new)
    assert (record.host, record.renewed_from) == (cert_host, record_of(current))
    assert new.not_valid_after_utc - timezone.now() > timedelta(days=pki.CLIENT_DAYS - 1)


def test_the_old_certificate_works_until_the_new_one_is_used_then_is_revoked(
    client: Client, certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    current = certs.client("agent-1")
    pem = renew(client, current, {"csr": make_csr("agent-1")}).json()["certificate"]
    # The answer may have been lost on its way: the agent still has only the old one.
    assert identify_agent(tls_request(current)).host == cert_host
    assert not record_of(current).is_revoked

    new = ClientFiles(current.cert, current.key, pki.load_certificate(pem))
    assert identify_agent(tls_request(new)).host == cert_host
    old = record_of(current)
    assert old.revocation_reason == f"superseded by renewal {pki.serial_hex(new.certificate)}"
    assert renew(client, current, {"csr": make_csr("agent-1")}).status_code == 403


def test_the_report_answer_tells_a_certificate_holder_when_to_renew(
    client: Client, certs: CertMaker, cert_host: Host, mtls: None, settings: Any, make_report: Any
) -> None:
    settings.CERT_EXPIRY_WARNING_DAYS = 21
    response = client.post(
        "/api/metrics/report",
        make_report(host="agent-1"),
        content_type="application/json",
        **as_agent(certs.client("agent-1")),
    )
    assert response.status_code == 202, response.json()
    assert response.json()["renew_within_days"] == 21


def test_the_report_answer_says_nothing_of_renewal_to_an_api_key(
    client: Client, agent_key: str, make_report: Any
) -> None:
    response = client.post(
        "/api/metrics/report", make_report(), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {agent_key}"
    )
    assert response.status_code == 202, response.json()
    assert "renew_within_days" not in response.json()


def test_a_csr_for_another_host_is_refused(client: Client, certs: CertMaker, cert_host: Host, mtls: None) -> None:
    Host.objects.create(name="db-1")
    response = renew(client, certs.client("agent-1"), {"csr": make_csr("db-1")})
    assert response.status_code == 400
    assert response.json() == {"detail": "csr: CN 'db-1' is not this certificate's host 'agent-1'"}
    assert Certificate.objects.clients().count() == 1


@pytest.mark.parametrize(
    ("csr", "message"),
    [
        ("hello", "not a PEM certificate signing request"),
        (make_csr(None), "no common name"),
    ],
)
def test_a_bad_csr_is_a_422_naming_the_field(
    client: Client, certs: CertMaker, cert_host: Host, mtls: None, csr: str, message: str
) -> None:
    response = renew(client, certs.client("agent-1"), {"csr": csr})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "csr"]
    assert message in error["msg"]
    assert Certificate.objects.clients().count() == 1


def test_a_missing_csr_is_a_422_naming_it(client: Client, certs: CertMaker, cert_host: Host, mtls: None) -> None:
    response = renew(client, certs.client("agent-1"), {})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"][0], error["loc"][-1], error["type"]) == ("body", "csr", "missing")


def test_a_csr_for_the_current_key_is_refused(client: Client, certs: CertMaker, cert_host: Host, mtls: None) -> None:
    current = certs.client("agent-1")
    key = serialization.load_pem_private_key(current.key.read_bytes(), password=None)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(current.certificate.subject)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    response = renew(client, current, {"csr": csr})
    assert response.status_code == 400
    assert response.json() == {"detail": "csr: it holds the current certificate's key; renewal needs a new key"}


def test_a_revoked_certificate_cannot_renew(client: Client, certs: CertMaker, cert_host: Host, mtls: None) -> None:
    response = renew(client, certs.revoked("agent-1"), {"csr": make_csr("agent-1")})
    assert response.status_code == 403
    assert response.json()["detail"].startswith("client certificate refused: certificate was revoked at ")
    assert Certificate.objects.clients().filter(revoked_at=None).count() == 0


def test_an_expired_certificate_cannot_renew(client: Client, certs: CertMaker, cert_host: Host, mtls: None) -> None:
    current = certs.client("agent-1", days=20)
    with time_machine.travel(timezone.now() + timedelta(days=21)):
        response = renew(client, current, {"csr": make_csr("agent-1")})
    assert response.status_code == 403
    assert response.json()["detail"].startswith("client certificate refused: certificate expired at ")
    assert Certificate.objects.clients().count() == 1


def test_a_certificate_revoked_after_it_identified_the_agent_cannot_renew(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    identity = identify_agent(tls_request(certs.client("agent-1")))
    assert identity.certificate is not None
    Certificate.objects.filter(pk=identity.certificate.pk).update(revoked_at=timezone.now())  # by another process
    with pytest.raises(RenewalRefused) as refused:
        identity.certificate.renew(make_csr("agent-1"))
    assert (refused.value.status, refused.value.reason) == (403, "client certificate refused: it was revoked")
    assert Certificate.objects.clients().count() == 1


def test_an_api_key_cannot_renew(client: Client, agent_key: str, ca: pki.CertificateAuthority) -> None:
    response = renew(client, None, {"csr": make_csr("web-1")}, HTTP_AUTHORIZATION=f"Bearer {agent_key}")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "renewal needs the agent's current client certificate; an API key cannot renew one"
    }
    assert not Certificate.objects.clients().exists()


def test_an_api_key_with_mtls_on_is_told_a_certificate_is_required(client: Client, agent_key: str, mtls: None) -> None:
    response = renew(client, None, {"csr": make_csr("web-1")}, HTTP_AUTHORIZATION=f"Bearer {agent_key}")
    assert response.status_code == 401
    assert "a client certificate is required" in response.json()["detail"]


def test_renewal_without_a_ca_is_a_503_naming_the_command(
    client: Client, certs: CertMaker, cert_host: Host, mtls: None, vault_dir: Any
) -> None:
    current = certs.client("agent-1")
    (vault_dir / "certs" / "ca" / "ca.key").unlink()
    response = renew(client, current, {"csr": make_csr("agent-1")})
    assert response.status_code == 503
    assert "certs init-ca" in response.json()["detail"]
