"""alerts.tasks.check_certificate_expiry: the `certificate-expiring` alert per host."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from alerts.certificates import CERTIFICATE_RULE
from alerts.models import Alert, AlertState, Severity
from alerts.tasks import check_certificate_expiry
from hosts import pki
from hosts.models import Certificate, Host

pytestmark = pytest.mark.django_db


def issue(host: Host, days: int) -> Certificate:
    return Certificate.issue_client(host, pki.generate_key().public_key(), days=days)[0]


def run() -> Any:
    return check_certificate_expiry.apply().get()


def test_beat_runs_the_check_hourly() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["certificate-expiry"]
    assert (entry["task"], entry["schedule"]) == ("hosts.tasks.check_certificate_expiry", 3600.0)


def test_a_certificate_far_from_expiry_raises_nothing(ca: pki.CertificateAuthority, cert_host: Host) -> None:
    issue(cert_host, days=90)
    assert run() == {"hosts": 1, "firing": 0}
    assert not Alert.objects.exists()


def test_a_certificate_close_to_expiry_fires_once_then_resolves_on_renewal(
    ca: pki.CertificateAuthority, cert_host: Host
) -> None:
    issue(cert_host, days=10)
    run()
    run()
    alert = Alert.objects.get(rule=CERTIFICATE_RULE, host=cert_host)
    assert (alert.state, alert.severity) == (AlertState.FIRING, Severity.WARNING)
    assert "expires in 9 days" in alert.message and "certs renew agent-1" in alert.message
    issue(cert_host, days=365)
    run()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_the_alert_turns_critical_as_expiry_nears(ca: pki.CertificateAuthority, cert_host: Host) -> None:
    issue(cert_host, days=20)
    with time_machine.travel(timezone.now() + timedelta(days=7)):
        run()
    assert Alert.objects.get().severity == Severity.WARNING
    with time_machine.travel(timezone.now() + timedelta(days=19)):
        run()
    assert Alert.objects.get().severity == Severity.CRITICAL


def test_an_expired_certificate_says_so(ca: pki.CertificateAuthority, cert_host: Host) -> None:
    issue(cert_host, days=5)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        run()
    assert "expired on" in Alert.objects.get().message


def test_a_revoked_certificate_does_not_count(ca: pki.CertificateAuthority, cert_host: Host) -> None:
    issue(cert_host, days=5).revoke("superseded")
    run()
    assert not Alert.objects.exists()


def test_a_disabled_host_is_not_checked(ca: pki.CertificateAuthority, cert_host: Host) -> None:
    issue(cert_host, days=5)
    Host.objects.filter(pk=cert_host.pk).update(enabled=False)
    assert run() == {"hosts": 0, "firing": 0}


def test_the_host_card_shows_a_certificate_close_to_expiry(
    ca: pki.CertificateAuthority, cert_host: Host, admin_client: Any
) -> None:
    issue(cert_host, days=10)
    page = admin_client.get("/").content.decode()
    assert "certificate expires in 9 days" in page


def test_the_host_card_says_nothing_of_a_distant_expiry(
    ca: pki.CertificateAuthority, cert_host: Host, admin_client: Any
) -> None:
    issue(cert_host, days=90)
    assert "certificate expires" not in admin_client.get("/").content.decode()
