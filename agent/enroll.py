"""`python -m agent enroll`: trade a one-time token for a client certificate.

The private key is made on this host and never leaves it; the hub signs a CSR whose
CN is the host name. Needs the optional `cryptography` package (requirements-enroll.txt),
imported here only, so the daemon stays light.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys


def enroll(args: argparse.Namespace) -> int:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        print(
            "enroll needs the optional 'cryptography' package: pip install -r agent/requirements-enroll.txt",
            file=sys.stderr,
        )
        return 2
    import requests

    name = args.name or socket.gethostname()
    server = args.server.rstrip("/")
    if args.ca and not os.path.isfile(args.ca):
        print(f"--ca: {args.ca} does not exist or is not a file", file=sys.stderr)
        return 2
    verify: str | bool = args.ca or True
    if args.insecure_first_contact:
        verify = False
        print("warning: --insecure-first-contact: the hub's certificate is NOT verified", file=sys.stderr)
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    csr_pem = csr.public_bytes(serialization.Encoding.PEM).decode()

    url = f"{server}/api/enroll"
    try:
        response = requests.post(url, json={"token": args.token, "csr": csr_pem}, timeout=30, verify=verify)
    except requests.exceptions.SSLError as exc:
        print(
            f"cannot verify the hub at {server} ({exc}); pass its CA with --ca FILE, or "
            "--insecure-first-contact and compare the CA fingerprint by hand",
            file=sys.stderr,
        )
        return 1
    except requests.RequestException as exc:
        print(f"cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 201:
        try:
            detail = response.json().get("detail", "")
        except (ValueError, AttributeError):
            detail = response.text[:300]
        print(f"enrollment refused: HTTP {response.status_code}: {detail}", file=sys.stderr)
        return 1

    try:
        answer = response.json()
        cert = x509.load_pem_x509_certificate(answer["certificate"].encode())
        ca = x509.load_pem_x509_certificate(answer["ca"].encode())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"the hub's answer is not a certificate and CA in PEM ({exc})", file=sys.stderr)
        return 1
    if cert.public_key() != key.public_key():
        print("the hub returned a certificate for a different key; nothing was written", file=sys.stderr)
        return 1
    if args.ca:
        with open(args.ca, "rb") as f:
            given = x509.load_pem_x509_certificate(f.read())
        if given.fingerprint(hashes.SHA256()) != ca.fingerprint(hashes.SHA256()):
            print(f"the hub returned a CA different from --ca {args.ca}; nothing was written", file=sys.stderr)
            return 1

    fingerprint = ca.fingerprint(hashes.SHA256()).hex(":").upper()
    os.makedirs(args.out, mode=0o755, exist_ok=True)
    paths = {
        "key": os.path.join(args.out, "agent.key"),
        "cert": os.path.join(args.out, "agent.crt"),
        "ca": os.path.join(args.out, "ca.crt"),
    }
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(paths["key"], key_pem, 0o600)
    _write(paths["cert"], cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(paths["ca"], ca.public_bytes(serialization.Encoding.PEM), 0o644)

    print(f"enrolled as {answer.get('host', name)}; certificate valid until {cert.not_valid_after_utc:%Y-%m-%d}")
    print(f"CA SHA-256 fingerprint: {fingerprint}")
    if args.insecure_first_contact:
        print(
            "compare this fingerprint with the hub's CA (on the hub: openssl x509 -in ca.crt -noout -fingerprint -sha256)"
        )
    print(f"TLS_CERT={paths['cert']}\nTLS_KEY={paths['key']}\nTLS_CA={paths['ca']}")
    print("next: put these in the env file and run `python -m agent check`")
    return 0


def _write(path: str, data: bytes, mode: int) -> None:
    """Write atomically with the final mode from the start (a key is never world-readable)."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # the umask may have narrowed it; make it exact
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
