"""hosts/pki.py and the Certificate/EnrollmentToken rows: issuing, checking, revoking."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.utils import timezone

from hosts import pki
from hosts.models import Certificate, CertificateKind, CertificateRefused, Host
from hosts.tests.conftest import CertMaker

pytestmark = pytest.mark.django_db


def test_ca_key_is_private_and_ca_is_recorded(ca: pki.CertificateAuthority) -> None:
    cert_path, key_path = pki.ca_paths()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == ca.certificate
    assert ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert Certificate.objects.get(kind=CertificateKind.CA).fingerprint == pki.fingerprint(ca.certificate)


def test_creating_a_second_ca_without_force_is_refused(ca: pki.CertificateAuthority) -> None:
    with pytest.raises(pki.CertificateProblem, match="--force"):
        pki.CertificateAuthority.create()
    assert pki.CertificateAuthority.load().certificate == ca.certificate


def test_loading_a_missing_ca_names_the_command(vault_dir: Path) -> None:
    with pytest.raises(pki.NoCertificateAuthority, match="certs init-ca"):
        pki.CertificateAuthority.load()


def test_client_certificate_has_the_host_as_cn_and_client_auth(ca: pki.CertificateAuthority) -> None:
    key = pki.generate_key()
    cert = ca.sign(key.public_key(), "web-1", server=False, days=30)
    assert pki.common_name(cert.subject) == "web-1"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    pki.check_signed_by_ca(cert)


def test_server_certificate_carries_ip_and_dns_sans(ca: pki.CertificateAuthority) -> None:
    cert = ca.sign(pki.generate_key().public_key(), "status", server=True, days=30, sans=["status", "127.0.0.1"])
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["status"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_check_names_a_foreign_signature(certs: CertMaker) -> None:
    with pytest.raises(pki.CertificateProblem, match="signature does not verify"):
        pki.check_signed_by_ca(certs.foreign("web-1").certificate)


def test_check_names_another_issuer(certs: CertMaker) -> None:
    with pytest.raises(pki.CertificateProblem, match="not issued by this hub's CA"):
        pki.check_signed_by_ca(certs.other_ca("web-1").certificate)


def test_check_refuses_expired_and_not_yet_valid(certs: CertMaker) -> None:
    with pytest.raises(pki.CertificateProblem, match="expired at"):
        pki.check_signed_by_ca(certs.expired("web-1").certificate)
    with pytest.raises(pki.CertificateProblem, match="not valid until"):
        pki.check_signed_by_ca(certs.not_yet_valid("web-1").certificate)


def test_a_certificate_expires_when_time_passes(certs: CertMaker) -> None:
    files = certs.client("web-1", days=10)
    with (
        time_machine.travel(timezone.now() + timedelta(days=11)),
        pytest.raises(pki.CertificateProblem, match="expired"),
    ):
        pki.check_signed_by_ca(files.certificate)


def test_a_certificate_is_valid_through_its_last_second_and_not_one_second_more(certs: CertMaker) -> None:
    certificate = certs.client("web-1", days=10).certificate
    last = certificate.not_valid_after_utc
    pki.check_signed_by_ca(certificate, now=last)  # notAfter is inclusive (RFC 5280)
    with pytest.raises(pki.CertificateProblem, match="expired"):
        pki.check_signed_by_ca(certificate, now=last + timedelta(seconds=1))


def test_check_client_refuses_revoked_with_reason(certs: CertMaker) -> None:
    with pytest.raises(CertificateRefused, match=r"revoked at .*\(key compromise\)"):
        Certificate.objects.check_client(certs.revoked("web-1").certificate)


def test_check_client_refuses_an_unrecorded_certificate(certs: CertMaker) -> None:
    with pytest.raises(CertificateRefused, match="not issued by this hub"):
        Certificate.objects.check_client(certs.client("web-1", record=False).certificate)


def test_check_client_refuses_a_server_certificate(certs: CertMaker) -> None:
    with pytest.raises(CertificateRefused, match="server certificate cannot identify an agent"):
        Certificate.objects.check_client(certs.client("status", server=True).certificate)


def test_revoking_writes_a_crl_listing_the_serial(certs: CertMaker) -> None:
    files = certs.revoked("web-1")
    crl = x509.load_pem_x509_crl(pki.crl_path().read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(files.certificate.serial_number) is not None
    assert crl.is_signature_valid(certs.ca.certificate.public_key())  # type: ignore[arg-type]


def test_revoking_twice_keeps_the_first_time(certs: CertMaker) -> None:
    files = certs.client("web-1")
    record = Certificate.objects.get(serial=pki.serial_hex(files.certificate))
    assert record.revoke("first") is True
    first = record.revoked_at
    assert record.revoke("second") is False
    record.refresh_from_db()
    assert (record.revoked_at, record.revocation_reason) == (first, "first")


def test_expires_soon_follows_the_warning_setting(certs: CertMaker, settings: object) -> None:
    host = Host.objects.create(name="web-1")
    record, _ = Certificate.issue_client(host, pki.generate_key().public_key(), days=20)
    assert not record.expires_soon()
    with time_machine.travel(timezone.now() + timedelta(days=7)):
        assert record.expires_soon()


def test_csr_with_a_small_rsa_key_is_refused() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the weak key is the point)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web-1")]))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(pki.CertificateProblem, match="at least 2048 bits"):
        pki.load_csr(csr.public_bytes(serialization.Encoding.PEM).decode())


def test_garbage_is_not_a_certificate() -> None:
    with pytest.raises(pki.CertificateProblem, match="not a PEM or DER"):
        pki.load_certificate("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
