"""The admin: channels with a send-test action, silences recording who, rules validated."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from alerts import delivery
from alerts.models import AuditEntry, Notification, NotificationChannel, Silence
from hosts.models import Host

from .conftest import Receiver


@pytest.fixture
def admin_client(db: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x" * 12))
    return client


@pytest.mark.django_db
def test_send_test_reaches_the_channel_and_is_logged(admin_client: Client, receiver: Receiver) -> None:
    channel = NotificationChannel.objects.create(name="hook", url=receiver.url)
    response = admin_client.post(
        "/admin/alerts/notificationchannel/",
        {"action": "send_test", "_selected_action": [channel.pk]},
        follow=True,
    )
    assert "Hook: test sent." in response.content.decode()
    assert (receiver.messages[0]["title"], receiver.messages[0]["type"]) == ("statusdash test notification", "info")
    assert Notification.objects.get().status == "sent"
    assert AuditEntry.objects.get().action == "test_channel"


@pytest.mark.django_db
def test_send_test_shows_the_failure(admin_client: Client, receiver: Receiver) -> None:
    receiver.fail_first = 1
    channel = NotificationChannel.objects.create(name="hook", url=receiver.url)
    response = admin_client.post(
        "/admin/alerts/notificationchannel/", {"action": "send_test", "_selected_action": [channel.pk]}, follow=True
    )
    assert "Hook: failed:" in response.content.decode()
    assert Notification.objects.get().status == "failed"


@pytest.mark.django_db
def test_a_channel_url_apprise_does_not_know_is_refused(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/alerts/notificationchannel/add/",
        {
            "name": "bad",
            "url": "nonsense://x",
            "min_severity": "warning",
            "tags": "[]",
            "send_resolved": "on",
            "enabled": "on",
            "notifications-TOTAL_FORMS": "0",
            "notifications-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Apprise does not understand this URL" in response.content.decode()
    assert not NotificationChannel.objects.exists()


@pytest.mark.django_db
def test_a_silence_added_in_the_admin_records_who_and_is_audited(admin_client: Client, host: Host) -> None:
    response = admin_client.post(
        "/admin/alerts/silence/add/",
        {
            "hosts": [host.pk],
            "tags": '["rack-2"]',
            "starts_at_0": "2026-03-01",
            "starts_at_1": "12:00:00",
            "ends_at_0": "2026-03-01",
            "ends_at_1": "14:00:00",
            "reason": "maintenance",
            "audit-TOTAL_FORMS": "0",
            "audit-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    silence = Silence.objects.get()
    assert silence.created_by.username == "root"  # type: ignore[union-attr]
    assert silence.tags == ["rack-2"]
    assert AuditEntry.objects.get().action == "silence"


def silence_form(**fields: Any) -> dict[str, Any]:
    return {
        "tags": "[]",
        "services": "[]",
        "rules": "[]",
        "matchers": "[]",
        "starts_at_0": "2026-03-01",
        "starts_at_1": "12:00:00",
        "ends_at_0": "2026-03-01",
        "ends_at_1": "14:00:00",
        "reason": "maintenance",
        "audit-TOTAL_FORMS": "0",
        "audit-INITIAL_FORMS": "0",
        **fields,
    }


@pytest.mark.django_db
def test_a_silence_for_a_service_and_the_hubs_alerts_is_added_in_the_admin(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/alerts/silence/add/", silence_form(services='["billing-api", "search"]', hub="on")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    silence = Silence.objects.get()
    assert (silence.services, silence.hub) == (["billing-api", "search"], True)
    listing = admin_client.get("/admin/alerts/silence/").content.decode()
    assert "service billing-api, service search, hub alerts" in listing


@pytest.mark.django_db
def test_a_silence_covering_nothing_is_refused(admin_client: Client) -> None:
    response = admin_client.post("/admin/alerts/silence/add/", silence_form())
    assert response.status_code == 200
    assert "A silence must cover something" in response.content.decode()
    assert not Silence.objects.exists()


@pytest.mark.django_db
def test_a_silence_of_a_rule_alone_is_accepted(admin_client: Client) -> None:
    response = admin_client.post("/admin/alerts/silence/add/", silence_form(rules='["disk-full"]'))
    assert response.status_code == 302
    assert Silence.objects.get().rules == ["disk-full"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("services", "message"),
    [
        ('["has space"]', "is not a service name"),
        ('"billing-api"', "must be a list of service names"),
        ("[billing-api", "Enter a valid JSON."),
    ],
    ids=["bad-name", "not-a-list", "not-json"],
)
def test_a_silence_naming_services_badly_is_a_form_error(admin_client: Client, services: str, message: str) -> None:
    response = admin_client.post("/admin/alerts/silence/add/", silence_form(services=services))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Silence.objects.exists()


@pytest.mark.django_db
def test_the_alert_list_shows_and_finds_a_services_alerts(admin_client: Client, host: Host) -> None:
    from alerts.models import Alert

    Alert.objects.fire("health-billing-api", service="billing-api", subject="billing-api")
    Alert.objects.fire("cpu", host=host)
    page = admin_client.get("/admin/alerts/alert/", {"q": "billing"}).content.decode()
    assert "1 result (" in page and page.count("field-service") == 1
    assert '<td class="field-service">billing-api</td>' in page


@pytest.mark.django_db
def test_a_silence_ending_before_it_starts_is_refused(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/alerts/silence/add/",
        {
            "tags": "[]",
            "starts_at_0": "2026-03-01",
            "starts_at_1": "12:00:00",
            "ends_at_0": "2026-03-01",
            "ends_at_1": "11:00:00",
            "reason": "oops",
            "audit-TOTAL_FORMS": "0",
            "audit-INITIAL_FORMS": "0",
        },
    )
    assert "A silence must end after it starts." in response.content.decode()
    assert not Silence.objects.exists()


@pytest.mark.django_db
def test_an_alert_page_shows_its_transitions_and_delivery_log(admin_client: Client, host: Host) -> None:
    from alerts.models import Alert

    alert = Alert.objects.fire("disk", host=host, subject="/")
    channel = NotificationChannel.objects.create(name="hook", url="json://127.0.0.1:9/")
    notification = Notification.objects.create(channel=channel, title="t", body="b", status="failed", error="refused")
    notification.transitions.set(alert.transitions.all())
    page = admin_client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()
    assert "hook: failed after 0 attempt(s) refused" in page
    assert "triggered" in page


@pytest.mark.django_db
def test_the_delivery_log_is_read_only(admin_client: Client) -> None:
    channel = NotificationChannel.objects.create(name="hook", url="json://127.0.0.1:9/")
    notification = delivery.create_leased(channel=channel, title="t", body="b")
    url = f"/admin/alerts/notification/{notification.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "Next attempt at" in page and 'name="next_attempt_at' not in page and "claim" not in page
    assert admin_client.post(url, {"title": "changed"}).status_code == 403
    notification.refresh_from_db()
    assert notification.title == "t" and notification.claim is not None
