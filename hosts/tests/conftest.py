"""A test CA in a private vault, and certificates good and bad, made with `cryptography`."""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client
from django.utils import timezone
from websockets.sync.client import ClientConnection, connect

from accounts.roles import VIEWER
from hosts import pki
from hosts.models import Certificate, CertificateKind, Host
from statusdash.tests.support import BASE_DIR, free_port, user_with_role


@dataclass(frozen=True)
class ClientFiles:
    """What an agent holds: `requests` takes `cert=(cert, key)`."""

    cert: Path
    key: Path
    certificate: x509.Certificate

    @property
    def pair(self) -> tuple[str, str]:
        return str(self.cert), str(self.key)


def write_client(directory: Path, name: str, certificate: x509.Certificate, key: Any) -> ClientFiles:
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    pki.write_file(key_path, pki.key_pem(key), 0o600)
    pki.write_file(cert_path, pki.cert_pem(certificate).encode())
    return ClientFiles(cert_path, key_path, certificate)


def make_csr(cn: str | None) -> str:
    """What `python -m agent enroll` sends: a CSR for a fresh key, with this CN (or none)."""
    names = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    csr = (
        x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(pki.generate_key(), hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


class CertMaker:
    """Client certificates for the test CA, recorded like real ones unless said otherwise."""

    def __init__(self, ca: pki.CertificateAuthority, directory: Path) -> None:
        self.ca = ca
        self.directory = directory

    def client(
        self,
        name: str,
        *,
        days: int = 30,
        not_before: datetime | None = None,
        record: bool = True,
        server: bool = False,
    ) -> ClientFiles:
        key = pki.generate_key()
        certificate = self.ca.sign(key.public_key(), name, server=server, days=days, not_before=not_before)
        if record:
            Certificate.record(
                certificate,
                CertificateKind.SERVER if server else CertificateKind.CLIENT,
                Host.objects.filter(name=name).first(),
            )
        return write_client(self.directory, f"{name}-{pki.serial_hex(certificate)[:8]}", certificate, key)

    def expired(self, name: str) -> ClientFiles:
        return self.client(name, days=1, not_before=timezone.now() - timedelta(days=10))

    def not_yet_valid(self, name: str) -> ClientFiles:
        return self.client(name, days=30, not_before=timezone.now() + timedelta(days=2))

    def revoked(self, name: str) -> ClientFiles:
        files = self.client(name)
        Certificate.objects.get(serial=pki.serial_hex(files.certificate)).revoke("key compromise")
        return files

    def foreign(self, name: str) -> ClientFiles:
        """Signed by another key under our CA's name: only the signature tells them apart."""
        return self._signed_elsewhere(name, self.ca.certificate.subject, "foreign")

    def other_ca(self, name: str) -> ClientFiles:
        """Signed by an unrelated CA with its own name."""
        other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else's CA")])
        return self._signed_elsewhere(name, other, "other-ca")

    def _signed_elsewhere(self, name: str, issuer: x509.Name, label: str) -> ClientFiles:
        now = timezone.now()
        key = pki.generate_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=30))
            .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
        )
        return write_client(self.directory, f"{name}-{label}", certificate, key)


@pytest.fixture
def certs(ca: pki.CertificateAuthority, tmp_path: Path) -> CertMaker:
    directory = tmp_path / "client-certs"
    directory.mkdir()
    return CertMaker(ca, directory)


@contextlib.contextmanager
def serving(process: subprocess.Popen[bytes], url: str, ca_file: Path, log: Path | None = None) -> Iterator[str]:
    """Yield `url` once a TLS server answers there; stop the process afterwards."""
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.communicate()[1].decode()[-3000:]
                logged = log.read_text() if log and log.exists() else ""
                raise RuntimeError(f"{url}: the server did not start:\n{output}\n{logged}")
            try:
                requests.get(f"{url}/health", verify=str(ca_file), timeout=1)
                break
            except requests.exceptions.SSLError:
                break  # it answers TLS: up (a server requiring client certificates refuses us)
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)  # not listening yet, or too busy starting to answer within a second
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def tls_daphne(env: dict[str, str], ca_file: Path, mode: str = "optional") -> Iterator[str]:
    """`python -m statusdash.tls_server` on a free port; yields its https base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "statusdash.tls_server", "-p", str(port), "--client-certs", mode],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "statusdash.settings", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with serving(process, f"https://127.0.0.1:{port}", ca_file) as url:
        yield url


def dashboard_socket(url: str, ca_file: str) -> ClientConnection:
    """The live dashboard's WebSocket as a logged-in browser opens it, over TLS."""
    browser = Client()
    browser.force_login(user_with_role("viewer", VIEWER))
    return connect(
        f"wss://{urlsplit(url).netloc}/ws/dashboard/",
        ssl=ssl.create_default_context(cafile=ca_file),
        additional_headers={"Cookie": f"sessionid={browser.cookies['sessionid'].value}", "Origin": url},
        open_timeout=30,  # a fresh hub's first socket opens its channel layer and pool
    )


@pytest.fixture
def certs_maker(certs: CertMaker) -> CertMaker:
    """`certs` under another name, for modules where `certs` is the command under test."""
    return certs
