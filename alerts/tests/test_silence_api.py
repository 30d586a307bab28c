"""/api/silences: create by host, tag, service, rule or matchers; extend; expire early; ETag and Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, AuditEntry, Silence
from hosts.models import Host
from statusdash.tests.api_actors import CALLERS, OPERATORS, READERS, expected_refusal, make_actors


@pytest.fixture
def actors(db):
    return make_actors()


def create(client, actors, body, caller="operator", **headers):
    return actors.call(client, caller, "post", "/api/silences", body, **headers)


DEPLOY = {"host": "web-1", "duration_seconds": 1800, "reason": "deploy"}


@pytest.mark.parametrize("caller", CALLERS)
def test_silencing_takes_an_operator(client, actors, host, caller):
    response = create(client, actors, DEPLOY, caller)
    assert response.status_code == (201 if caller in OPERATORS else expected_refusal(caller))
    assert Silence.objects.exists() == (caller in OPERATORS)


@pytest.mark.parametrize("caller", CALLERS)
def test_reading_silences_takes_read_rights(client, actors, caller):
    silence = Silence.objects.create(ends_at=timezone.now() + timedelta(hours=1), reason="x", hub=True)
    for path in ("/api/silences", f"/api/silences/{silence.pk}"):
        response = actors.call(client, caller, "get", path)
        assert response.status_code == (200 if caller in READERS else expected_refusal(caller))


@pytest.mark.parametrize("caller", CALLERS)
def test_extending_and_expiring_take_an_operator(client, actors, caller):
    silence = Silence.objects.create(ends_at=timezone.now() + timedelta(hours=1), reason="x", hub=True)
    later = (timezone.now() + timedelta(hours=3)).isoformat()
    patched = actors.call(client, caller, "patch", f"/api/silences/{silence.pk}", {"ends_at": later})
    expired = actors.call(client, caller, "post", f"/api/silences/{silence.pk}/expire")
    wanted = 200 if caller in OPERATORS else expected_refusal(caller)
    assert (patched.status_code, expired.status_code) == (wanted, wanted)


def test_a_deploy_silence_of_a_host_for_30_minutes(client, actors, host):
    before = timezone.now()
    body = create(client, actors, DEPLOY).json()
    assert body["hosts"] == ["web-1"] and body["active"] is True and body["reason"] == "deploy"
    silence = Silence.objects.get(pk=body["id"])
    assert timedelta(minutes=30) <= silence.ends_at - before < timedelta(minutes=31)
    assert silence.covers(Alert.objects.fire("cpu-high", host=host))
    assert AuditEntry.objects.filter(silence=silence, action="silence", username="operator-user").exists()


def test_a_rule_on_a_host_silences_only_that_rule_there(client, actors, host):
    other = Host.objects.create(name="web-2")
    body = create(client, actors, {"host": "web-1", "rule": "cpu-high", "duration_seconds": 60, "reason": "r"}).json()
    silence = Silence.objects.get(pk=body["id"])
    assert silence.covers(Alert.objects.fire("cpu-high", host=host))
    assert not silence.covers(Alert.objects.fire("disk-full", host=host))
    assert not silence.covers(Alert.objects.fire("cpu-high", host=other))


def test_a_rule_alone_silences_it_everywhere(client, actors, host):
    body = create(client, actors, {"rule": "cpu-high", "duration_seconds": 60, "reason": "r"}).json()
    silence = Silence.objects.get(pk=body["id"])
    assert silence.covers(Alert.objects.fire("cpu-high", host=host))
    assert silence.covers(Alert.objects.fire("cpu-high", service="billing"))
    assert not silence.covers(Alert.objects.fire("disk-full", host=host))


def test_a_tag_and_a_service(client, actors, host):
    tagged = create(client, actors, {"tag": "prod", "duration_seconds": 60, "reason": "r"}).json()
    service = create(client, actors, {"service": "billing", "duration_seconds": 60, "reason": "r"}).json()
    assert Silence.objects.get(pk=tagged["id"]).covers(Alert.objects.fire("x", host=host))
    assert Silence.objects.get(pk=service["id"]).covers(Alert.objects.fire("x", service="billing"))
    assert not Silence.objects.get(pk=service["id"]).covers(Alert.objects.fire("x", service="shop"))


def test_matchers_as_alertmanager_matches_them(client, actors, host):
    matchers = [{"name": "host", "value": "web-.*", "isRegex": True}, {"name": "severity", "value": "critical"}]
    body = create(client, actors, {"matchers": matchers, "duration_seconds": 60, "reason": "r"}).json()
    silence = Silence.objects.get(pk=body["id"])
    assert silence.covers(Alert.objects.fire("a", host=host, severity="critical"))
    assert not silence.covers(Alert.objects.fire("b", host=host, severity="warning"))
    assert not silence.covers(Alert.objects.fire("c", host=Host.objects.create(name="db-1"), severity="critical"))


def test_a_negative_matcher(client, actors, host):
    matchers = [{"name": "alertname", "value": "cpu-high", "isEqual": False}]
    body = create(client, actors, {"matchers": matchers, "duration_seconds": 60, "reason": "r"}).json()
    silence = Silence.objects.get(pk=body["id"])
    assert silence.covers(Alert.objects.fire("disk-full", host=host))
    assert not silence.covers(Alert.objects.fire("cpu-high", host=host))


def test_an_explicit_window(client, actors, host):
    starts = timezone.now() + timedelta(hours=1)
    ends = starts + timedelta(hours=2)
    body = create(
        client, actors, {"host": "web-1", "starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "reason": "r"}
    ).json()
    assert body["active"] is False
    silence = Silence.objects.get(pk=body["id"])
    assert (silence.starts_at, silence.ends_at) == (starts, ends)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duration_seconds": 60, "reason": "r"}, "host"),
        ({"host": "nope", "duration_seconds": 60, "reason": "r"}, "host"),
        ({"host": "web-1", "reason": "r"}, "ends_at"),
        ({"host": "web-1", "duration_seconds": 60, "ends_at": "2099-01-01T00:00:00Z", "reason": "r"}, "ends_at"),
        ({"host": "web-1", "ends_at": "2001-01-01T00:00:00Z", "reason": "r"}, "ends_at"),
        ({"host": "web-1", "ends_at": "2099-01-01T00:00:00", "reason": "r"}, "ends_at"),
        ({"host": "web-1", "duration_seconds": 0, "reason": "r"}, "duration_seconds"),
        ({"host": "web-1", "duration_seconds": 60, "reason": ""}, "reason"),
        ({"host": "web-1", "duration_seconds": 60}, "reason"),
        ({"tag": "x" * 41, "duration_seconds": 60, "reason": "r"}, "tag"),
        ({"service": "bad name!", "duration_seconds": 60, "reason": "r"}, "service"),
        ({"matchers": [{"name": "colour", "value": "x"}], "duration_seconds": 60, "reason": "r"}, "matchers"),
        (
            {"matchers": [{"name": "host", "value": "(", "isRegex": True}], "duration_seconds": 60, "reason": "r"},
            "matchers",
        ),
    ],
)
def test_bad_silences_are_a_422_naming_the_field_and_write_nothing(client, actors, host, body, field):
    response = create(client, actors, body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    assert not Silence.objects.exists()


def test_extending_a_silence(client, actors, host):
    body = create(client, actors, DEPLOY).json()
    later = timezone.now() + timedelta(hours=2)
    response = actors.call(client, "operator", "patch", f"/api/silences/{body['id']}", {"ends_at": later.isoformat()})
    assert response.status_code == 200
    assert Silence.objects.get(pk=body["id"]).ends_at == later
    assert AuditEntry.objects.filter(action="change_silence").count() == 1


def test_extending_into_the_past_is_a_422(client, actors, host):
    body = create(client, actors, DEPLOY).json()
    response = actors.call(
        client, "operator", "patch", f"/api/silences/{body['id']}", {"ends_at": "2001-01-01T00:00:00Z"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "ends_at"]


def test_expiring_early_ends_it_now(client, actors, host):
    body = create(client, actors, DEPLOY).json()
    response = actors.call(client, "operator", "post", f"/api/silences/{body['id']}/expire")
    assert response.status_code == 200 and response.json()["active"] is False
    silence = Silence.objects.get(pk=body["id"])
    assert silence.ends_at <= timezone.now()
    assert not Silence.objects.active().exists()
    again = actors.call(client, "operator", "post", f"/api/silences/{body['id']}/expire")
    assert again.status_code == 409


def test_a_stale_if_match_is_a_412_and_changes_nothing(client, actors, host):
    body = create(client, actors, DEPLOY).json()
    path = f"/api/silences/{body['id']}"
    etag = actors.call(client, "viewer", "get", path)["ETag"]
    first = actors.call(client, "operator", "patch", path, {"reason": "deploy 2"}, HTTP_IF_MATCH=etag)
    assert first.status_code == 200 and first["ETag"] != etag
    stale = actors.call(client, "operator", "patch", path, {"reason": "deploy 3"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and "ETag" in stale.json()["detail"]
    assert actors.call(client, "operator", "post", f"{path}/expire", HTTP_IF_MATCH=etag).status_code == 412
    assert Silence.objects.get(pk=body["id"]).reason == "deploy 2"
    assert Silence.objects.active().exists()


def test_the_current_if_match_is_accepted(client, actors, host):
    body = create(client, actors, DEPLOY).json()
    path = f"/api/silences/{body['id']}"
    etag = actors.call(client, "viewer", "get", path)["ETag"]
    assert actors.call(client, "operator", "post", f"{path}/expire", HTTP_IF_MATCH=etag).status_code == 200


def test_a_retried_create_with_the_same_key_returns_the_first_answer(client, actors, host):
    first = create(client, actors, DEPLOY, HTTP_IDEMPOTENCY_KEY="deploy-42")
    retry = create(client, actors, DEPLOY, HTTP_IDEMPOTENCY_KEY="deploy-42")
    assert (retry.status_code, retry.json()) == (first.status_code, first.json()) == (201, first.json())
    assert Silence.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422_naming_the_header(client, actors, host):
    create(client, actors, DEPLOY, HTTP_IDEMPOTENCY_KEY="deploy-42")
    response = create(client, actors, {**DEPLOY, "reason": "other"}, HTTP_IDEMPOTENCY_KEY="deploy-42")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert Silence.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "patch"])
def test_an_unknown_silence_is_a_json_404(client, actors, method):
    response = actors.call(client, "operator", method, "/api/silences/4242", {} if method == "patch" else None)
    assert response.status_code == 404 and response.json()["detail"] == "no silence 4242"


def test_active_filter(client, actors, host):
    now = timezone.now()
    on = Silence.objects.create(ends_at=now + timedelta(hours=1), reason="on", hub=True)
    Silence.objects.create(starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1), reason="off", hub=True)
    items = actors.call(client, "viewer", "get", "/api/silences?active=true").json()["items"]
    assert [i["id"] for i in items] == [on.pk]
    assert len(actors.call(client, "viewer", "get", "/api/silences?active=false").json()["items"]) == 1


def test_paging_is_stable_under_inserts(client, actors):
    now = timezone.now()
    for i in range(6):
        Silence.objects.create(
            starts_at=now - timedelta(minutes=i // 2), ends_at=now + timedelta(hours=1), reason=f"s{i}", hub=True
        )
    expected = list(Silence.objects.order_by("-starts_at", "-pk").values_list("pk", flat=True))
    seen, cursor = [], None
    while True:
        body = actors.call(
            client, "viewer", "get", "/api/silences?limit=4" + (f"&cursor={cursor}" if cursor else "")
        ).json()
        seen += [i["id"] for i in body["items"]]
        Silence.objects.create(ends_at=timezone.now() + timedelta(hours=1), reason="new", hub=True)
        if (cursor := body["next_cursor"]) is None:
            break
    assert seen == expected
