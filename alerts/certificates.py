"""The `certificate-expiring` alert: one per enabled host whose newest client certificate is close to expiry."""

from __future__ import annotations

from datetime import datetime

from alerts.models import Alert, Severity
from hosts.models import Host, latest_client_certificates

CERTIFICATE_RULE = "certificate-expiring"
CRITICAL_DAYS = 3


def check_certificate_expiry(now: datetime) -> dict[str, int]:
    """Fire the alert for each enabled host whose newest certificate expires soon, resolve it for
    the rest. Safe to run twice: fire and resolve are idempotent."""
    hosts = list(Host.objects.enabled())
    latest = latest_client_certificates(hosts)
    firing = 0
    for host in hosts:
        cert = latest.get(host.pk)
        if cert is None or not cert.expires_soon(now):
            Alert.objects.resolve(CERTIFICATE_RULE, host=host)
            continue
        days = cert.days_left(now)
        when = (
            f"expired on {cert.not_after:%Y-%m-%d}"
            if days < 0
            else f"expires in {days} days ({cert.not_after:%Y-%m-%d})"
        )
        Alert.objects.fire(
            CERTIFICATE_RULE,
            host=host,
            severity=Severity.CRITICAL if days < CRITICAL_DAYS else Severity.WARNING,
            value=days,
            message=f"client certificate {cert.serial[:16]} {when}; renew with `manage.py certs renew {host.name}`",
        )
        firing += 1
    return {"hosts": len(hosts), "firing": firing}
