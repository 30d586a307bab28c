"""Acknowledge and silence from the dashboard: logged in, POST, CSRF, audited; bad input is a 4xx naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.roles import OPERATOR
from alerts.models import Alert, AuditEntry, Silence
from hosts.models import Host
from statusdash.tests.support import user_with_role


@pytest.fixture
def user(db: Any) -> User:
    return user_with_role("ana", OPERATOR, password="correct horse battery")


@pytest.fixture
def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def alert(host: Host) -> Alert:
    return Alert.objects.fire("disk", host=host, subject="/", severity="warning", message="disk / at 93%")


def htmx_post(client: Client, url: str, data: dict[str, str] | None = None) -> Any:
    return client.post(url, data or {}, HTTP_HX_REQUEST="true")


@pytest.mark.django_db
def test_acknowledge_records_who_and_returns_the_actions_partial(signed_in: Client, alert: Alert, user: User) -> None:
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 200
    assert f'id="alert-actions-{alert.pk}"' in response.content.decode()
    assert "Acknowledged by ana" in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == user and alert.acknowledged_at is not None
    assert AuditEntry.objects.get().action == "acknowledge"


@pytest.mark.django_db
def test_acknowledging_twice_is_audited_once(signed_in: Client, alert: Alert) -> None:
    htmx_post(signed_in, f"/alerts/{alert.pk}/acknowledge")
    htmx_post(signed_in, f"/alerts/{alert.pk}/acknowledge")
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_unacknowledge_clears_it(signed_in: Client, alert: Alert, user: User) -> None:
    alert.acknowledge(user)
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/unacknowledge")
    assert "Acknowledge</button>" in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert list(AuditEntry.objects.order_by("at", "id").values_list("action", flat=True)) == [
        "acknowledge",
        "unacknowledge",
    ]


@pytest.mark.django_db
def test_a_plain_form_post_redirects_back(signed_in: Client, alert: Alert) -> None:
    response = signed_in.post(f"/alerts/{alert.pk}/acknowledge", {"next": "/alerts/?state=firing"})
    assert response.status_code == 302 and response["Location"] == "/alerts/?state=firing"


@pytest.mark.django_db
def test_a_redirect_elsewhere_is_refused(signed_in: Client, alert: Alert) -> None:
    response = signed_in.post(f"/alerts/{alert.pk}/acknowledge", {"next": "https://evil.example/"})
    assert response["Location"] == "/alerts/"


@pytest.mark.django_db
def test_silence_covers_the_host_for_the_duration(signed_in: Client, alert: Alert, host: Host, user: User) -> None:
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/silence", {"duration": "4h", "reason": "disk swap"})
    assert response.status_code == 200
    silence = Silence.objects.get()
    assert list(silence.hosts.all()) == [host]
    assert silence.reason == "disk swap" and silence.created_by == user
    assert timedelta(hours=4) - (silence.ends_at - silence.starts_at) < timedelta(seconds=1)
    assert "Silenced until" in response.content.decode()
    assert alert.active_silence() == silence
    assert AuditEntry.objects.get().action == "silence"


@pytest.mark.django_db
def test_end_silence_ends_it_now(signed_in: Client, alert: Alert, host: Host) -> None:
    htmx_post(signed_in, f"/alerts/{alert.pk}/silence", {"duration": "1h"})
    silence = Silence.objects.get()
    response = htmx_post(signed_in, f"/alerts/silences/{silence.pk}/end", {"alert": str(alert.pk)})
    assert response.status_code == 200
    silence.refresh_from_db()
    assert not silence.is_active()
    assert alert.active_silence() is None
    assert AuditEntry.objects.filter(action="end_silence").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("duration", ["", "forever", "0h", "-1h", "31d", "1w", "99999999999999d"])
def test_a_bad_silence_duration_is_a_400_naming_it(signed_in: Client, alert: Alert, duration: str) -> None:
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/silence", {"duration": duration})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["form", "duration"]
    assert not Silence.objects.exists()


@pytest.mark.django_db
def test_a_too_long_reason_is_a_400_naming_it(signed_in: Client, alert: Alert) -> None:
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/silence", {"duration": "1h", "reason": "x" * 201})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["form", "reason"]
    assert not Silence.objects.exists()


@pytest.mark.django_db
def test_silencing_a_service_alert_covers_that_service(signed_in: Client) -> None:
    alert = Alert.objects.fire("health-billing-api", service="billing-api", subject="billing-api")
    page = signed_in.get("/alerts/").content.decode()
    assert "Silence service billing-api for" in page
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/silence", {"duration": "2h", "reason": "db migration"})
    assert response.status_code == 200
    silence = Silence.objects.get()
    assert (list(silence.hosts.all()), silence.services, silence.hub) == ([], ["billing-api"], False)
    assert "Silenced until" in response.content.decode()
    assert alert.active_silence() == silence


@pytest.mark.django_db
def test_silencing_a_hub_alert_covers_the_hubs_alerts(signed_in: Client) -> None:
    alert = Alert.objects.fire("certificate_expiring", subject="hub.crt")
    assert "Silence hub alerts for" in signed_in.get("/alerts/").content.decode()
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/silence", {"duration": "1h"})
    assert response.status_code == 200
    silence = Silence.objects.get()
    assert (list(silence.hosts.all()), silence.services, silence.hub) == ([], [], True)
    assert alert.active_silence() == silence


@pytest.mark.django_db
def test_a_bad_duration_for_a_service_alert_is_a_400_and_silences_nothing(signed_in: Client) -> None:
    alert = Alert.objects.fire("health-billing-api", service="billing-api", subject="billing-api")
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/silence", {"duration": "soon"})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["form", "duration"]
    assert not Silence.objects.exists()


@pytest.mark.django_db
def test_ending_a_silence_for_an_unknown_alert_is_a_400_and_ends_nothing(signed_in: Client, host: Host) -> None:
    silence = Silence.objects.create(ends_at=timezone.now() + timedelta(hours=1), reason="r")
    response = htmx_post(signed_in, f"/alerts/silences/{silence.pk}/end", {"alert": "nope"})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["form", "alert"]
    silence.refresh_from_db()
    assert silence.is_active()


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["acknowledge", "unacknowledge", "silence"])
def test_unknown_alerts_are_a_404(signed_in: Client, action: str) -> None:
    response = htmx_post(signed_in, f"/alerts/999/{action}", {"duration": "1h"})
    assert response.status_code == 404
    assert response.json() == {"detail": "alert 999 not found"}


@pytest.mark.django_db
def test_unknown_silence_is_a_404(signed_in: Client) -> None:
    response = htmx_post(signed_in, "/alerts/silences/999/end")
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_resolved_alert_cannot_be_acknowledged(signed_in: Client, alert: Alert, host: Host) -> None:
    Alert.objects.resolve("disk", host=host, subject="/")
    response = htmx_post(signed_in, f"/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 409
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_log_in(client: Client, alert: Alert) -> None:
    response = client.post(f"/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


@pytest.mark.django_db
def test_get_is_not_allowed(signed_in: Client, alert: Alert) -> None:
    assert signed_in.get(f"/alerts/{alert.pk}/acknowledge").status_code == 405


@pytest.mark.django_db
def test_a_post_without_the_csrf_token_is_refused(user: User, alert: Alert) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(f"/alerts/{alert.pk}/acknowledge").status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
