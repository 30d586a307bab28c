"""Issuing into the vault: each certificate is written under VAULT_PATH/certs and recorded as a row."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from hosts import pki
from hosts.models import Certificate, CertificateKind, CertificateRefused, Host


def create_ca(*, force: bool = False) -> pki.CertificateAuthority:
    ca = pki.CertificateAuthority.create(force=force)
    Certificate.record(ca.certificate, CertificateKind.CA)
    return ca


def issue_server_certificate(extra_names: list[str]) -> Path:
    """The hub's server certificate and key in the vault, for every name it is reached by."""
    ca = pki.CertificateAuthority.load()
    names = [urlsplit(settings.PUBLIC_URL).hostname or "", "localhost", "127.0.0.1", *extra_names]
    key = pki.generate_key()
    certificate = ca.sign(key.public_key(), names[0], server=True, days=pki.SERVER_DAYS, sans=[n for n in names if n])
    Certificate.record(certificate, CertificateKind.SERVER)
    cert_path, key_path = pki.server_paths()
    pki.write_file(key_path, pki.key_pem(key), 0o600)
    pki.write_file(cert_path, (pki.cert_pem(certificate) + pki.cert_pem(ca.certificate)).encode())
    return cert_path


def issue_client_files(host: Host, days: int = pki.CLIENT_DAYS) -> Path:
    """A client certificate and key for `host`, written to the vault for copying to the host."""
    key = pki.generate_key()
    _, certificate = Certificate.issue_client(host, key.public_key(), days)
    cert_path, key_path = pki.client_paths(host.name)
    pki.write_file(key_path, pki.key_pem(key), 0o600)
    pki.write_file(cert_path, pki.cert_pem(certificate).encode())
    return cert_path


def ensure_ca() -> pki.CertificateAuthority:
    return pki.CertificateAuthority.load() if pki.CertificateAuthority.exists() else create_ca()


def ensure_server_certificate() -> Path:
    cert_path, key_path = pki.server_paths()
    if cert_path.exists() and key_path.exists():
        return cert_path
    return issue_server_certificate([])


def ensure_client_files(host: Host) -> tuple[Path, Path]:
    """The host's client certificate and key in the vault, issued again if missing, refused or expiring."""
    cert_path, key_path = pki.client_paths(host.name)
    if cert_path.exists() and key_path.exists():
        try:
            record = Certificate.objects.check_client(pki.load_certificate(cert_path.read_bytes()))
        except (CertificateRefused, pki.CertificateProblem):
            record = None
        if record is not None and not record.expires_soon():
            return cert_path, key_path
    issue_client_files(host)
    return cert_path, key_path
