"""/api/services: read each service's state; an admin's override that the overall sentiment takes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from services.models import ServiceHealth, ServiceOverride, ServiceStatus
from statusdash.tests.api_actors import ADMINS, CALLERS, READERS, expected_refusal, make_actors


@pytest.fixture
def actors(db):
    return make_actors()


@pytest.fixture
def billing(db):
    now = timezone.now()
    return ServiceHealth.objects.create(
        name="billing", status=ServiceStatus.UNHEALTHY, last_check=now, last_event_at=now, since=now, last_error="500s"
    )


OVERRIDE = {"status": "healthy", "reason": "health check broken, service fine", "duration_seconds": 3600}


def sentiment(client, actors):
    # A read key, not a token: tests that move the clock an hour on would outlive a token.
    return actors.call(client, "read_key", "get", "/api/hosts/sentiment/overall").json()


@pytest.mark.parametrize("caller", CALLERS)
def test_reading_services_takes_read_rights(client, actors, billing, caller):
    for path in ("/api/services", "/api/services/billing"):
        assert actors.call(client, caller, "get", path).status_code == (
            200 if caller in READERS else expected_refusal(caller)
        )


@pytest.mark.parametrize("caller", CALLERS)
def test_overriding_takes_an_admin(client, actors, billing, caller):
    put = actors.call(client, caller, "put", "/api/services/billing/override", OVERRIDE)
    removed = actors.call(client, caller, "delete", "/api/services/billing/override")
    wanted = 200 if caller in ADMINS else expected_refusal(caller)
    assert (put.status_code, removed.status_code) == (wanted, wanted)


def test_a_service_as_the_hub_knows_it(client, actors, billing):
    body = actors.call(client, "viewer", "get", "/api/services/billing").json()
    assert (body["status"], body["effective_status"], body["last_error"], body["override"]) == (
        "unhealthy",
        "unhealthy",
        "500s",
        None,
    )


def test_the_override_records_who_why_and_until(client, actors, billing):
    before = timezone.now()
    body = actors.call(client, "admin", "put", "/api/services/billing/override", OVERRIDE).json()
    assert body["effective_status"] == "healthy" and body["status"] == "unhealthy"
    override = ServiceOverride.objects.get(service=billing)
    assert (override.set_by_name, override.reason) == ("admin-user", OVERRIDE["reason"])
    assert timedelta(minutes=59) < override.until - before <= timedelta(hours=1, seconds=5)


def test_the_sentiment_takes_the_override_and_drops_it_when_removed(
    client, actors, billing, django_capture_on_commit_callbacks
):
    assert sentiment(client, actors)["status"] == "unhealthy"
    with django_capture_on_commit_callbacks(execute=True):
        actors.call(client, "admin", "put", "/api/services/billing/override", OVERRIDE)
    answer = sentiment(client, actors)
    assert answer["status"] == "healthy"
    assert answer["services"][0]["status"] == "healthy" and "error" not in answer["services"][0]
    with django_capture_on_commit_callbacks(execute=True):
        actors.call(client, "admin", "delete", "/api/services/billing/override")
    assert sentiment(client, actors)["status"] == "unhealthy"


def test_an_override_ends_at_its_until(client, actors, billing, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        actors.call(client, "admin", "put", "/api/services/billing/override", OVERRIDE)
    assert sentiment(client, actors)["status"] == "healthy"
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        assert sentiment(client, actors)["status"] == "unhealthy"
        body = actors.call(client, "read_key", "get", "/api/services/billing").json()
        assert body["override"]["in_force"] is False and body["effective_status"] == "unhealthy"


def test_an_override_without_an_end_lasts(client, actors, billing):
    body = actors.call(client, "admin", "put", "/api/services/billing/override", {"status": "unhealthy", "reason": "r"})
    assert body.json()["override"]["until"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**OVERRIDE, "status": "great"}, "status"),
        ({**OVERRIDE, "reason": ""}, "reason"),
        ({k: v for k, v in OVERRIDE.items() if k != "reason"}, "reason"),
        ({**OVERRIDE, "until": "2001-01-01T00:00:00Z", "duration_seconds": None}, "until"),
        ({**OVERRIDE, "until": "2099-01-01T00:00:00Z"}, "until"),
        ({**OVERRIDE, "duration_seconds": 0}, "duration_seconds"),
    ],
)
def test_bad_overrides_are_a_422_naming_the_field(client, actors, billing, body, field):
    response = actors.call(client, "admin", "put", "/api/services/billing/override", body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert not ServiceOverride.objects.exists()


def test_a_stale_if_match_is_a_412(client, actors, billing):
    etag = actors.call(client, "viewer", "get", "/api/services/billing")["ETag"]
    actors.call(client, "admin", "put", "/api/services/billing/override", OVERRIDE, HTTP_IF_MATCH=etag)
    stale = actors.call(
        client, "admin", "put", "/api/services/billing/override", {**OVERRIDE, "status": "unknown"}, HTTP_IF_MATCH=etag
    )
    assert stale.status_code == 412
    assert (
        actors.call(client, "admin", "delete", "/api/services/billing/override", HTTP_IF_MATCH=etag).status_code == 412
    )
    assert ServiceOverride.objects.get().status == "healthy"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/services/nope"),
        ("put", "/api/services/nope/override"),
        ("delete", "/api/services/billing/override"),
    ],
)
def test_unknown_services_and_overrides_are_json_404s(client, actors, billing, method, path):
    response = actors.call(client, "admin", method, path, OVERRIDE if method == "put" else None)
    assert response.status_code == 404 and response.json()["detail"].startswith("no ")


def test_paging_is_stable_under_inserts(client, actors):
    for name in ("b", "d", "f"):
        ServiceHealth.objects.create(name=name)
    first = actors.call(client, "viewer", "get", "/api/services?limit=2").json()
    ServiceHealth.objects.create(name="a")
    rest = actors.call(client, "viewer", "get", f"/api/services?cursor={first['next_cursor']}").json()
    assert [s["name"] for s in first["items"] + rest["items"]] == ["b", "d", "f"]
