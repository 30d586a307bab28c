"""The admin: marking services and hosts public, and the pages rendering."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from hosts.models import Host
from services import sentiment
from services.models import DailyAvailability, DomainEvent, EventType, PublicHost, ServiceEvent, ServiceHealth


def seo() -> ServiceHealth:
    event = DomainEvent(type=EventType.SERVICE_HEALTHY, service_name="seo", occurred_at=timezone.now())
    ServiceEvent.objects.record([event], via="http")
    return ServiceHealth.objects.get(name="seo")


def cells(page: str) -> dict[str, list[str]]:
    """The text of a changelist's cells by column (Django marks each cell class="field-<name>")."""
    columns: dict[str, list[str]] = {}
    for name, content in re.findall(r'<t[dh] class="field-([a-z_]+)[^"]*"[^>]*>(.*?)</t[dh]>', page, re.S):
        columns.setdefault(name, []).append(re.sub(r"<[^>]+>", "", content).strip())
    return columns


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("servicehealth", {"name": ["seo"], "status": ["Healthy"]}),
        ("serviceevent", {"service": ["seo"], "type": ["Service Healthy"], "outcome": ["Applied"], "via": ["http"]}),
        ("publichost", {"host": ["web-1"], "display_name": ["Public web"]}),
        ("dailyavailability", {"service": ["seo"], "observed_seconds": ["3600.0"], "up_seconds": ["1800.0"]}),
    ],
)
def test_changelists_list_their_rows(admin_client: Client, model: str, expected: dict[str, list[str]]) -> None:
    service = seo()
    PublicHost.objects.create(host=Host.objects.create(name="web-1"), display_name="Public web")
    DailyAvailability.objects.create(day=timezone.now().date(), service=service, observed_seconds=3600, up_seconds=1800)
    response = admin_client.get(f"/admin/services/{model}/")
    assert response.status_code == 200
    columns = cells(response.content.decode())
    assert {name: columns.get(name) for name in expected} == expected


@pytest.mark.django_db
def test_service_page_renders_with_its_flips(admin_client: Client) -> None:
    service = seo()
    response = admin_client.get(f"/admin/services/servicehealth/{service.pk}/change/")
    assert response.status_code == 200 and b"unknown" in response.content


@pytest.mark.django_db
def test_renaming_a_service_for_display_updates_the_cached_answer(admin_client: Client) -> None:
    service = seo()
    sentiment.overall()
    response = admin_client.post(
        f"/admin/services/servicehealth/{service.pk}/change/",
        {"name": "seo", "display_name": "Search", "expected_interval": 60, "public": "on", "flips-TOTAL_FORMS": 1}
        | {"flips-INITIAL_FORMS": 1, "flips-MIN_NUM_FORMS": 0, "flips-MAX_NUM_FORMS": 1000}
        | {"flips-0-id": service.flips.get().pk, "flips-0-service": service.pk},
    )
    assert response.status_code == 302, response.content
    service.refresh_from_db()
    assert (service.public, service.expected_interval) == (True, 60)
    assert sentiment.service_entries()[0]["label"] == "Search"


@pytest.mark.django_db
def test_a_host_is_marked_public_in_the_admin(admin_client: Client, host: Host) -> None:
    response = admin_client.post("/admin/services/publichost/add/", {"host": host.pk, "display_name": "Web"})
    assert response.status_code == 302, response.content
    assert PublicHost.objects.get().label == "Web"


@pytest.mark.django_db
def test_host_autocomplete_for_public_hosts(admin_client: Client, host: Host) -> None:
    url = "/admin/autocomplete/?app_label=services&model_name=publichost&field_name=host&term=web"
    assert "web-1" in admin_client.get(url).content.decode()


@pytest.mark.django_db
def test_deleting_a_service_drops_it_from_the_cached_answer(admin_client: Client) -> None:
    service = seo()
    assert len(sentiment.overall()["services"]) == 1
    response = admin_client.post(f"/admin/services/servicehealth/{service.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert sentiment.overall()["services"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("interval", ["0", "86401", "soon"])
def test_bad_expected_interval_is_refused_by_the_form(admin_client: Client, interval: str) -> None:
    service = seo()
    response = admin_client.post(
        f"/admin/services/servicehealth/{service.pk}/change/",
        {"name": "seo", "expected_interval": interval, "flips-TOTAL_FORMS": 0, "flips-INITIAL_FORMS": 0},
    )
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["expected_interval"]
    service.refresh_from_db()
    assert service.expected_interval == 30
