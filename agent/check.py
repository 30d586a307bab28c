"""`python -m agent check`: walk from configuration to an authenticated request.

Each step prints one line in plain words; the first network failure skips the steps
that depend on it. Exit status is non-zero if any step failed.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from urllib.parse import urlsplit

from agent.config import Config

WARN_DAYS = 14


class Checks:
    def __init__(self) -> None:
        self.failed = False

    def ok(self, step: str, message: str) -> None:
        print(f"[ OK ] {step}: {message}")

    def warn(self, step: str, message: str) -> None:
        print(f"[WARN] {step}: {message}")

    def fail(self, step: str, message: str) -> None:
        self.failed = True
        print(f"[FAIL] {step}: {message}")


def run_checks(config: Config) -> int:
    checks = Checks()
    auth = "client certificate (mTLS)" if config.mtls_enabled else "API key"
    checks.ok("configuration", f"hub {config.server_url}, authenticating with {auth}")
    if config.mtls_enabled:
        _check_certificates(checks, config)
    if _check_network(checks, config):
        _check_hub(checks, config)
    print("all checks passed" if not checks.failed else "some checks failed; see [FAIL] lines above")
    return 1 if checks.failed else 0


def decode_certificate(path: str) -> dict:
    # The ssl module's own PEM decoder (used by CPython's test suite): it reads
    # validity and names without pulling in a third-party library.
    return ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined]


def days_left(cert: dict) -> float:
    return (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400


SHORT_NAMES = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C"}


def _name(rdns: tuple) -> str:
    return ", ".join(f"{SHORT_NAMES.get(k, k)}={v}" for rdn in rdns for k, v in rdn)


def _check_certificates(checks: Checks, config: Config) -> None:
    step = "client certificate"
    try:
        cert = decode_certificate(config.tls_cert)
    except (ssl.SSLError, OSError) as exc:
        checks.fail(step, f"TLS_CERT {config.tls_cert} is not a readable PEM certificate ({exc})")
        return
    left = days_left(cert)
    subject = _name(cert["subject"])
    if ssl.cert_time_to_seconds(cert["notBefore"]) > time.time():
        checks.fail(step, f"{subject} is not valid yet (from {cert['notBefore']}); is this host's clock right?")
    elif left < 0:
        checks.fail(step, f"{subject} expired on {cert['notAfter']}; issue a new one (python -m agent enroll)")
    elif left < WARN_DAYS:
        checks.warn(step, f"{subject} expires in {left:.0f} days ({cert['notAfter']}); renew it soon")
    else:
        checks.ok(step, f"{subject}, valid for {left:.0f} more days (until {cert['notAfter']})")

    try:
        ssl.create_default_context().load_cert_chain(config.tls_cert, config.tls_key)
        checks.ok("private key", f"TLS_KEY {config.tls_key} belongs to the certificate")
    except (ssl.SSLError, OSError) as exc:
        checks.fail("private key", f"TLS_KEY {config.tls_key} does not belong to TLS_CERT or cannot be read ({exc})")

    if not config.tls_ca:
        checks.warn("CA", "TLS_CA is not set; the hub's certificate is checked against the system's CAs")
        return
    try:
        ca = decode_certificate(config.tls_ca)
    except (ssl.SSLError, OSError) as exc:
        checks.fail("CA", f"TLS_CA {config.tls_ca} is not a readable PEM certificate ({exc})")
        return
    issuer, ca_subject = _name(cert["issuer"]), _name(ca["subject"])
    if issuer != ca_subject:
        checks.fail("CA", f"the certificate was issued by '{issuer}', but TLS_CA is '{ca_subject}': not the same CA")
    elif days_left(ca) < 0:
        checks.fail("CA", f"'{ca_subject}' expired on {ca['notAfter']}")
    else:
        checks.ok("CA", f"the certificate was issued by TLS_CA '{ca_subject}'")


def _check_network(checks: Checks, config: Config) -> bool:
    """DNS, TCP and (for https) the TLS handshake. False when the hub cannot be reached."""
    parts = urlsplit(config.server_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except socket.gaierror as exc:
        checks.fail("DNS", f"cannot resolve {host} ({exc.strerror}); check the name, /etc/hosts or the VPN's DNS")
        return False
    checks.ok("DNS", f"{host} resolves to {', '.join(addresses)}")

    try:
        sock = socket.create_connection((host, port), timeout=config.request_timeout)
    except ConnectionRefusedError:
        checks.fail("connection", f"nothing listens on {host}:{port}; is the hub running?")
        return False
    except OSError as exc:
        checks.fail("connection", f"cannot reach {host}:{port} ({exc}); is the VPN up, or a firewall in the way?")
        return False
    with sock:
        if parts.scheme != "https":
            checks.warn("TLS", "SERVER_URL is plain http: no encryption (development only)")
            return True
        context = ssl.create_default_context(cafile=config.tls_ca or None)
        if config.mtls_enabled:
            # A bad pair was reported above; the handshake shows what the hub makes of it.
            with contextlib.suppress(ssl.SSLError, OSError):
                context.load_cert_chain(config.tls_cert, config.tls_key)
        try:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                server = _name((tls.getpeercert() or {}).get("subject", ()))  # type: ignore[arg-type]
                # With TLS 1.3 the hub judges our certificate after the handshake;
                # one request brings its verdict (an alert) back to us.
                # The hub may already have closed; its alert, if any, is read next.
                with contextlib.suppress(OSError):
                    tls.sendall(f"HEAD /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                if not tls.recv(1):
                    raise ssl.SSLEOFError("the hub closed the connection after the handshake")
                checks.ok("TLS", f"handshake with {host}:{port} ({tls.version()}), hub certificate {server}")
        except ssl.SSLCertVerificationError as exc:
            checks.fail("TLS", f"the hub's certificate is not trusted: {exc.verify_message}; is TLS_CA the hub's CA?")
            return False
        except ssl.SSLError as exc:
            reason = (exc.reason or "").replace("_", " ").lower() or "it closed the connection"
            checks.fail(
                "TLS", f"the hub refused our client certificate ({reason}); is it signed by the hub's CA and valid?"
            )
            return False
        except OSError as exc:
            checks.fail("TLS", f"handshake with {host}:{port} failed ({exc})")
            return False
    return True


def _check_hub(checks: Checks, config: Config) -> None:
    import requests

    from agent.transport import Transport

    transport = Transport(config)
    try:
        health = transport.session.get(config.health_url, timeout=config.request_timeout, verify=transport.verify)
        if health.status_code == 200:
            checks.ok("health", f"{config.health_url} answered 200")
        else:
            checks.fail("health", f"{config.health_url} answered HTTP {health.status_code}; is the hub healthy?")
    except requests.RequestException as exc:
        checks.fail("health", f"GET {config.health_url} failed ({exc})")

    # An empty batch: authentication is checked before the body, and nothing is stored.
    outcome = transport.send(b'{"reports":[]}')
    transport.close()
    if outcome.status in (401, 403):
        checks.fail("authentication", f"the hub refused our credentials (HTTP {outcome.status}: {outcome.detail})")
    elif outcome.status is None:
        checks.fail("authentication", f"no answer from {config.report_url} ({outcome.detail})")
    elif outcome.status == 404:
        checks.fail("authentication", f"{config.report_url} does not exist (HTTP 404); is SERVER_URL the hub?")
    elif outcome.ok or outcome.status in (400, 413, 422):
        checks.ok("authentication", f"the hub accepted our credentials (HTTP {outcome.status})")
    else:
        checks.fail("authentication", f"unexpected answer HTTP {outcome.status}: {outcome.detail}")
