"""TLS: the certificate a server presents, and the days until it expires."""

from __future__ import annotations

import socket
import ssl
import time
from datetime import UTC, datetime

from cryptography import x509

from checks.models import Check, CheckState, Outcome
from checks.options import TlsOptions
from checks.runners.common import elapsed_ms
from checks.targets import split_host_port


def run(check: Check) -> Outcome:
    options = check.parsed_options()
    assert isinstance(options, TlsOptions)
    host, port = split_host_port(check.target, default_port=443)
    context = ssl.create_default_context()
    if not options.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    started = time.perf_counter()
    try:
        with (
            socket.create_connection((host, port), timeout=check.timeout) as raw,
            context.wrap_socket(raw, server_hostname=options.server_name or host) as tls,
        ):
            latency = elapsed_ms(started)
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as error:
        return Outcome(CheckState.CRITICAL, f"certificate not trusted: {error.verify_message}")
    except TimeoutError:
        return Outcome(CheckState.CRITICAL, f"no TLS handshake with {host}:{port} within {check.timeout:g} s")
    except (OSError, ssl.SSLError) as error:
        return Outcome(CheckState.CRITICAL, f"{host}:{port}: {error}")
    if not der:
        return Outcome(CheckState.CRITICAL, "the server presented no certificate", latency)
    expires = x509.load_der_x509_certificate(der).not_valid_after_utc
    days = (expires - datetime.now(UTC)).total_seconds() / 86400
    message = f"certificate expires {expires:%Y-%m-%d %H:%M} UTC ({days:.1f} days)"
    if days <= 0:
        return Outcome(CheckState.CRITICAL, f"certificate expired {expires:%Y-%m-%d %H:%M} UTC", latency)
    if days <= options.critical_days:
        return Outcome(CheckState.CRITICAL, message, latency)
    if days <= options.warn_days:
        return Outcome(CheckState.WARNING, message, latency)
    return Outcome(CheckState.OK, message, latency)
