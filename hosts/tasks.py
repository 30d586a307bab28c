"""Periodic work on hosts, run by Celery beat (see CELERY_BEAT_SCHEDULE in settings)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from alerts.models import Alert, Severity
from hosts.models import Host, latest_client_certificates
from statusdash.observability import timed_sweep

CERTIFICATE_RULE = "certificate-expiring"
CRITICAL_DAYS = 3


@shared_task
@timed_sweep("hosts.check_certificate_expiry")
def check_certificate_expiry() -> dict[str, int]:
    """Fire `certificate-expiring` for each enabled host whose newest certificate is close to
    expiry, resolve it for the rest. Safe to run twice: fire and resolve are idempotent."""
    now = timezone.now()
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
