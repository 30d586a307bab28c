"""The hub's certificate authority: keys, certificates, CSRs and the CRL, with `cryptography`.

Pure crypto and file layout, no database: `hosts.models.Certificate` records what is
issued here and decides revocation. Files live under VAULT_PATH/certs:

    ca/ca.crt  ca/ca.key (0600)  ca/ca.crl
    server/status.crt  server/status.key
    clients/<host>.crt  clients/<host>.key
"""

from __future__ import annotations

import functools
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.utils import timezone

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest lifetime browsers accept for a server certificate
CLIENT_DAYS = 365
# Clocks drift: a certificate issued "now" must already be valid on a host a minute behind.
BACKDATE = timedelta(minutes=5)
MIN_RSA_BITS = 2048

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class CertificateProblem(Exception):
    """A certificate or CSR we refuse; the message is the reason shown to the user."""


class NoCertificateAuthority(CertificateProblem):
    pass


def certs_dir() -> Path:
    return Path(settings.VAULT_PATH) / "certs"


def ca_paths() -> tuple[Path, Path]:
    return certs_dir() / "ca" / "ca.crt", certs_dir() / "ca" / "ca.key"


def crl_path() -> Path:
    return certs_dir() / "ca" / "ca.crl"


def server_paths() -> tuple[Path, Path]:
    return certs_dir() / "server" / "status.crt", certs_dir() / "server" / "status.key"


def client_paths(name: str) -> tuple[Path, Path]:
    return certs_dir() / "clients" / f"{name}.crt", certs_dir() / "clients" / f"{name}.key"


def generate_key() -> ec.EllipticCurvePrivateKey:
    # P-256: small, fast to generate and verify, accepted by OpenSSL, nginx and browsers.
    return ec.generate_private_key(ec.SECP256R1())


def write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write atomically with `mode` from the start, so a key is never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def serial_hex(certificate: x509.Certificate) -> str:
    return format(certificate.serial_number, "x")


def common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def load_certificate(data: bytes | str) -> x509.Certificate:
    raw = data.encode() if isinstance(data, str) else data
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except ValueError:
        raise CertificateProblem("not a PEM or DER X.509 certificate") from None


def load_csr(pem: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise CertificateProblem("not a PEM certificate signing request") from None
    if not csr.is_signature_valid:
        raise CertificateProblem("the CSR's signature does not match its public key")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise CertificateProblem(f"RSA keys must be at least {MIN_RSA_BITS} bits, this one is {key.key_size}")
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise CertificateProblem("the CSR's key must be RSA or ECDSA")
    if not common_name(csr.subject):
        raise CertificateProblem("the CSR has no common name (CN)")
    return csr


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: PrivateKey

    @classmethod
    def exists(cls) -> bool:
        return all(path.exists() for path in ca_paths())

    @classmethod
    def load(cls) -> CertificateAuthority:
        cert_path, key_path = ca_paths()
        if not cls.exists():
            raise NoCertificateAuthority(
                f"no certificate authority at {cert_path.parent}; run `python manage.py certs init-ca`"
            )
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
        return cls(certificate=load_certificate(cert_path.read_bytes()), key=key)

    @classmethod
    def create(cls, name: str = "statusdash CA", *, force: bool = False) -> CertificateAuthority:
        cert_path, key_path = ca_paths()
        if cert_path.exists() and not force:
            raise CertificateProblem(f"a CA already exists at {cert_path}; pass --force to replace it")
        key = ec.generate_private_key(ec.SECP384R1())
        subject = x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "statusdash"), x509.NameAttribute(NameOID.COMMON_NAME, name)]
        )
        now = timezone.now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(signs_certificates=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_file(key_path, key_pem(key), 0o600)
        write_file(cert_path, cert_pem(certificate).encode())
        return cls(certificate=certificate, key=key)

    def sign(
        self,
        public_key: PublicKey,
        cn: str,
        *,
        server: bool,
        days: int,
        sans: list[str] | None = None,
        not_before: datetime | None = None,
    ) -> x509.Certificate:
        """A leaf certificate for `cn`: a TLS server (with SANs) or an agent's client certificate."""
        start = not_before or timezone.now() - BACKDATE
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + BACKDATE + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(key_encipherment=isinstance(public_key, rsa.RSAPublicKey)), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.certificate.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(_general_names(sans)), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def write_crl(self, revoked: list[tuple[int, datetime]]) -> Path:
        """Sign and write the list of revoked serials, for nginx's ssl_crl and anyone else checking."""
        now = timezone.now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - BACKDATE)
            .next_update(now + timedelta(days=30))
        )
        for serial, revoked_at in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at).build()
            )
        crl = builder.sign(self.key, hashes.SHA256())
        write_file(crl_path(), crl.public_bytes(serialization.Encoding.PEM))
        return crl_path()


@functools.cache
def _ca_certificate(path: Path, mtime_ns: int) -> x509.Certificate:
    return load_certificate(path.read_bytes())


def trusted_ca_certificate() -> x509.Certificate:
    """The CA certificate, read once per change of the file: every agent request checks against it."""
    path = ca_paths()[0]
    try:
        return _ca_certificate(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        raise NoCertificateAuthority(
            f"no certificate authority at {path.parent}; run `python manage.py certs init-ca`"
        ) from None


def check_signed_by_ca(certificate: x509.Certificate, now: datetime | None = None) -> None:
    """Raise CertificateProblem unless our CA signed `certificate` and it is valid now.

    Revocation is the database's business (hosts.models.Certificate).
    """
    ca = trusted_ca_certificate()
    if certificate.issuer != ca.subject:
        raise CertificateProblem(
            f"certificate is not issued by this hub's CA (issuer: {certificate.issuer.rfc4514_string()})"
        )
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateProblem("certificate's signature does not verify against this hub's CA") from None
    now = now or timezone.now()
    if now < certificate.not_valid_before_utc:
        raise CertificateProblem(
            f"certificate is not valid until {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    if now > certificate.not_valid_after_utc:
        raise CertificateProblem(f"certificate expired at {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")


def _key_usage(*, signs_certificates: bool = False, key_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,  # RSA key exchange (TLS 1.2); meaningless for ECDSA
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _general_names(names: list[str]) -> list[x509.GeneralName]:
    general: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):  # ordered and without repeats
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return general
