"""Renew the client certificate without a person, over the agent's current mutual-TLS identity.

A hub that can renew says so in every report's answer to a certificate holder:
`"renew_within_days": N` (its CERT_EXPIRY_WARNING_DAYS). Once the certificate has fewer
than N days left by this host's clock, the agent makes a new key here, posts a CSR for
its CN to /api/agent/renew with its current certificate, checks the answer, writes the
new key and certificate over TLS_KEY and TLS_CERT and reconnects with them. The hub
revokes the old certificate the first time the new one is used.

It needs `cryptography` (install.sh installs it), imported only when a renewal is due, and
a certificate directory it may write; without either it says so once and the hub's
`certificate-expiring` alert asks a person. A failed attempt is tried again an hour later.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable
from typing import Any

from agent.check import decode_certificate
from agent.config import Config
from agent.transport import classify

log = logging.getLogger(__name__)

RENEW_PATH = "/api/agent/renew"
RETRY_SECONDS = 3600.0
DAY = 86400.0


class RenewalFailed(Exception):
    """This attempt did not give us a usable certificate; the message says why."""


class Renewer:
    def __init__(
        self,
        config: Config,
        post: Callable[[str, dict], Any],
        reconnect: Callable[[], None],
        now: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cert_path = config.tls_cert
        self.key_path = config.tls_key
        self.ca_path = config.tls_ca
        self.post = post  # Transport.post_json: over the agent's session, with the current certificate
        self.reconnect = reconnect  # Transport.reconnect: the next request shakes hands with the new pair
        self.now = now  # wall clock, against the certificate's notAfter
        self.clock = clock  # monotonic, for the retry delay
        self.next_try = 0.0
        self.unable = False  # told once that this host cannot renew; the hub's alert takes over
        self._cert: dict | None = None

    def current(self) -> dict:
        if self._cert is None:
            self._cert = decode_certificate(self.cert_path)
        return self._cert

    def seconds_left(self) -> float:
        return ssl.cert_time_to_seconds(self.current()["notAfter"]) - self.now()

    def maybe_renew(self, within_days: int | None) -> bool:
        """Renew if the hub announced renewal and the certificate is inside its window. True if renewed."""
        if within_days is None or self.unable or self.clock() < self.next_try:
            return False
        try:
            left = self.seconds_left()
        except (ssl.SSLError, OSError, KeyError) as exc:
            self._cannot(f"TLS_CERT {self.cert_path} cannot be read ({exc})")
            return False
        if left >= within_days * DAY:
            return False
        problem = self._problem()
        if problem:
            self._cannot(problem)
            return False
        try:
            until = self.renew()
        except RenewalFailed as exc:
            self.next_try = self.clock() + RETRY_SECONDS
            log.error(
                "could not renew the client certificate, which expires in %.1f days (%s); trying again in an hour",
                left / DAY,
                exc,
            )
            return False
        log.info(
            "renewed the client certificate (it had %.1f days left); the new one is valid until %s", left / DAY, until
        )
        return True

    def _problem(self) -> str:
        try:
            import cryptography  # noqa: F401
        except ImportError:
            return "the 'cryptography' package is missing (pip install -r requirements-enroll.txt)"
        directory = os.path.dirname(os.path.abspath(self.cert_path))
        if os.path.dirname(os.path.abspath(self.key_path)) != directory:
            return "TLS_CERT and TLS_KEY are in different directories: they cannot be replaced together"
        if not os.access(directory, os.W_OK):
            return f"this user may not write {directory} (the unit's ReadWritePaths, the directory's owner)"
        return ""

    def _cannot(self, why: str) -> None:
        self.unable = True
        log.warning(
            "the client certificate cannot be renewed here: %s; renew it by hand before it expires "
            "(the hub's certificate-expiring alert will remind you)",
            why,
        )

    def renew(self) -> str:
        """One attempt: new key, CSR, the hub's certificate, checked, written, reconnected."""
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        cn = dict(pair for rdn in self.current()["subject"] for pair in rdn).get("commonName", "")
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .sign(key, hashes.SHA256())
        )
        try:
            response = self.post(RENEW_PATH, {"csr": csr.public_bytes(serialization.Encoding.PEM).decode()})
        except OSError as exc:  # requests' errors are OSErrors
            raise RenewalFailed(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 201:
            raise RenewalFailed(f"the hub refused: HTTP {response.status_code}: {classify(response).detail}")
        try:
            certificate = x509.load_pem_x509_certificate(response.json()["certificate"].encode())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RenewalFailed(f"the hub's answer is not a PEM certificate ({exc})") from None
        if certificate.public_key() != key.public_key():
            raise RenewalFailed("the hub returned a certificate for another key")
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names or names[0].value != cn:
            raise RenewalFailed(f"the hub returned a certificate for another CN than {cn!r}")
        if self.ca_path:
            with open(self.ca_path, "rb") as f:
                ca = x509.load_pem_x509_certificate(f.read())
            try:
                certificate.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise RenewalFailed(f"the new certificate is not issued by TLS_CA {self.ca_path} ({exc})") from None
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            replace_pair(self.cert_path, self.key_path, certificate.public_bytes(serialization.Encoding.PEM), key_pem)
        except OSError as exc:
            raise RenewalFailed(f"cannot write the new certificate and key ({exc})") from None
        self._cert = None
        self.reconnect()
        return f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"


def replace_pair(cert_path: str, key_path: str, cert_pem: bytes, key_pem: bytes) -> None:
    """Put a new certificate and key in place of the old pair, so that no crash leaves a mismatch.

    Both are written whole beside their targets first (KEY.new, then CERT.new). The key's
    rename commits the change; the certificate's completes it. A crash between the two
    leaves CERT.new without KEY.new, which finish_replacing() completes at the next start.
    """
    _write(key_path + ".new", key_pem, 0o600)
    _write(cert_path + ".new", cert_pem, 0o644)
    os.replace(key_path + ".new", key_path)
    os.replace(cert_path + ".new", cert_path)
    _sync_directory(os.path.dirname(os.path.abspath(cert_path)))


def finish_replacing(cert_path: str, key_path: str) -> None:
    """Complete or undo a replace_pair() that a crash interrupted (see there)."""
    new_cert, new_key = cert_path + ".new", key_path + ".new"
    if os.path.exists(new_cert) and not os.path.exists(new_key):
        os.replace(new_cert, cert_path)  # the new key is in place already: its certificate must follow
        log.warning("completed a certificate renewal that was interrupted: %s is the new certificate", cert_path)
    else:
        for leftover in (new_cert, new_key):  # not committed: the old pair is whole
            if os.path.exists(leftover):
                os.unlink(leftover)


def _write(path: str, data: bytes, mode: int) -> None:
    """Write atomically (a temporary file renamed over `path`) with `mode` from the start."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; make it exact
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _sync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
