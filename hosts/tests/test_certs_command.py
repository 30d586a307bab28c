"""python manage.py certs …: the CA from the shell."""

from __future__ import annotations

import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from django.core.management import CommandError, call_command

from hosts import pki
from hosts.models import Certificate, CertificateKind, EnrollmentToken, Host
from hosts.tests.conftest import CertMaker

pytestmark = pytest.mark.django_db


def certs(*args: str) -> str:
    out = StringIO()
    call_command("certs", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_init_ca_writes_a_private_key_and_refuses_to_overwrite(vault_dir: Path) -> None:
    output = certs("init-ca")
    cert_path, key_path = pki.ca_paths()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in output
    first = cert_path.read_bytes()
    with pytest.raises(CommandError, match="--force"):
        certs("init-ca")
    assert cert_path.read_bytes() == first
    certs("init-ca", "--force")
    assert cert_path.read_bytes() != first


def test_server_certificate_names_public_url_localhost_and_extra_hosts(
    ca: pki.CertificateAuthority, settings: Any
) -> None:
    settings.PUBLIC_URL = "https://status.example.internal"
    certs("server", "--host", "10.1.2.3", "--host", "status")
    cert = x509.load_pem_x509_certificate(pki.server_paths()[0].read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["status.example.internal", "localhost", "status"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "10.1.2.3"]
    assert stat.S_IMODE(pki.server_paths()[1].stat().st_mode) == 0o600


def test_server_without_a_ca_names_init_ca(vault_dir: Path) -> None:
    with pytest.raises(CommandError, match="certs init-ca"):
        certs("server")


def test_client_creates_the_host_and_records_the_certificate(ca: pki.CertificateAuthority) -> None:
    certs("client", "db-1", "--days", "90")
    cert_path, key_path = pki.client_paths("db-1")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert pki.common_name(cert.subject) == "db-1"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    record = Certificate.objects.check_client(cert)
    assert record.host == Host.objects.get(name="db-1")
    assert 89 <= record.days_left() <= 90


@pytest.mark.parametrize(
    ("args", "message"), [(["BAD NAME"], "invalid host name"), (["db-1", "--days", "0"], "--days")]
)
def test_client_bad_input_is_a_clear_error(ca: pki.CertificateAuthority, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        certs("client", *args)
    assert not Certificate.objects.clients().exists()


def test_list_shows_days_left_and_revocations(certs_maker: CertMaker) -> None:
    certs_maker.client("web-1", days=30)
    certs_maker.revoked("db-1")
    output = certs("list")
    (web,) = [line for line in output.splitlines() if " web-1 " in line]
    assert web.split()[-2:] == [str(Certificate.objects.get(common_name="web-1").days_left()), "-"]
    (db,) = [line for line in output.splitlines() if " db-1 " in line]
    assert "key compromise" in db


def test_revoke_by_name_revokes_and_writes_the_crl(ca: pki.CertificateAuthority) -> None:
    certs("client", "web-1")
    output = certs("revoke", "web-1", "--reason", "laptop stolen")
    record = Certificate.objects.get(common_name="web-1")
    assert record.revocation_reason == "laptop stolen"
    assert str(pki.crl_path()) in output
    crl = x509.load_pem_x509_crl(pki.crl_path().read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(record.serial, 16)) is not None


def test_revoke_by_serial(ca: pki.CertificateAuthority) -> None:
    certs("client", "web-1")
    record = Certificate.objects.get(common_name="web-1")
    certs("revoke", record.serial)
    record.refresh_from_db()
    assert record.is_revoked


def test_revoke_of_nothing_is_an_error(ca: pki.CertificateAuthority) -> None:
    with pytest.raises(CommandError, match="no unrevoked client certificate"):
        certs("revoke", "nobody")


def test_renew_issues_a_new_certificate_and_revokes_the_old(ca: pki.CertificateAuthority) -> None:
    certs("client", "web-1")
    old = Certificate.objects.get(common_name="web-1")
    certs("renew", "web-1")
    old.refresh_from_db()
    assert old.revocation_reason == "superseded"
    new = Certificate.objects.clients().get(common_name="web-1", revoked_at=None)
    assert new.pem == pki.client_paths("web-1")[0].read_text()


def test_renew_of_an_unknown_host_is_an_error(ca: pki.CertificateAuthority) -> None:
    with pytest.raises(CommandError, match="no host named 'ghost'"):
        certs("renew", "ghost")


def test_verify_accepts_a_good_certificate(ca: pki.CertificateAuthority) -> None:
    certs("client", "web-1")
    assert "OK (CN web-1" in certs("verify", str(pki.client_paths("web-1")[0]))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        ("expired", "expired at"),
        ("revoked", "revoked at"),
        ("other_ca", "not issued by this hub's CA"),
        ("foreign", "signature does not verify"),
    ],
)
def test_verify_explains_a_bad_certificate(certs_maker: CertMaker, make: str, reason: str) -> None:
    Host.objects.create(name="web-1")
    files = getattr(certs_maker, make)("web-1")
    with pytest.raises(CommandError, match=f"verification failed: .*{reason}"):
        certs("verify", str(files.cert))


def test_verify_of_a_certificate_for_a_disabled_host_fails(certs_maker: CertMaker) -> None:
    Host.objects.create(name="web-1", enabled=False)
    files = certs_maker.client("web-1")
    with pytest.raises(CommandError, match="is a disabled host"):
        certs("verify", str(files.cert))


def test_verify_of_a_missing_or_garbage_file_is_an_error(ca: pki.CertificateAuthority, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No such file"):
        certs("verify", str(tmp_path / "none.crt"))
    (tmp_path / "junk.crt").write_text("junk")
    with pytest.raises(CommandError, match="not a PEM or DER"):
        certs("verify", str(tmp_path / "junk.crt"))


def test_token_prints_only_the_secret_and_creates_the_host(ca: pki.CertificateAuthority) -> None:
    raw = certs("token", "new-box", "--hours", "2").strip()
    assert raw.startswith("sde_")
    token = EnrollmentToken.objects.get(host__name="new-box")
    assert token.used_at is None
    assert 1.9 < (token.expires_at - token.created_at).total_seconds() / 3600 <= 2


def test_token_with_bad_hours_is_an_error(ca: pki.CertificateAuthority) -> None:
    with pytest.raises(CommandError, match="--hours"):
        certs("token", "new-box", "--hours", "0")


def test_bootstrap_makes_ca_server_and_one_client_per_agent_env(vault_dir: Path, tmp_path: Path) -> None:
    agents = tmp_path / "deploy"
    agents.mkdir()
    for name in ("apricot", "vpn-gateway"):
        (agents / f"{name}.env").write_text("MTLS_ENABLED=true\n")
    certs("bootstrap", "--agents", str(agents))
    kinds = sorted(Certificate.objects.values_list("kind", "common_name"))
    assert [k for k, _ in kinds] == [CertificateKind.CA, CertificateKind.CLIENT, CertificateKind.CLIENT, "server"]
    first_ca = pki.ca_paths()[0].read_bytes()
    certs("bootstrap", "--agents", str(agents))
    assert pki.ca_paths()[0].read_bytes() == first_ca, "a second run keeps the CA"
    assert Certificate.objects.count() == 4, "and the valid certificates"


@pytest.mark.parametrize("name", ["not a name", "-leading.dash", "ünïcode.example"])
def test_server_with_a_bad_extra_name_is_refused(ca: pki.CertificateAuthority, name: str) -> None:
    with pytest.raises(CommandError, match="is not a DNS name or IP address"):
        certs("server", f"--host={name}")
    assert not pki.server_paths()[0].exists()
