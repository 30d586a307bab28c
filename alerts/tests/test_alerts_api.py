"""/api/alerts: list with filters and cursor, read with transitions and ETag, acknowledge, un-acknowledge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertState, Severity, Silence
from hosts.models import Host
from statusdash.tests.api_actors import CALLERS, OPERATORS, READERS, expected_refusal, make_actors


@pytest.fixture
def actors(db):
    return make_actors()


def fire(rule="cpu-high", host=None, **kwargs):
    return Alert.objects.fire(rule, host=host, **kwargs)


@pytest.mark.parametrize("caller", CALLERS)
def test_reading_alerts_takes_read_rights(client, actors, caller):
    alert = fire()
    for path in ("/api/alerts", f"/api/alerts/{alert.pk}"):
        response = actors.call(client, caller, "get", path)
        assert response.status_code == (200 if caller in READERS else expected_refusal(caller)), path


@pytest.mark.parametrize("caller", CALLERS)
def test_acknowledging_takes_an_operator(client, actors, caller):
    alert = fire()
    response = actors.call(client, caller, "post", f"/api/alerts/{alert.pk}/ack", {"note": "on it"})
    assert response.status_code == (200 if caller in OPERATORS else expected_refusal(caller))
    alert.refresh_from_db()
    assert alert.is_acknowledged == (caller in OPERATORS)


@pytest.mark.parametrize("caller", CALLERS)
def test_unacknowledging_takes_an_operator(client, actors, caller):
    alert = fire()
    alert.acknowledge(None, note="x")
    response = actors.call(client, caller, "delete", f"/api/alerts/{alert.pk}/ack")
    assert response.status_code == (200 if caller in OPERATORS else expected_refusal(caller))
    alert.refresh_from_db()
    assert alert.is_acknowledged == (caller not in OPERATORS)


def test_the_list_shows_the_promised_fields(client, actors, host):
    fire(host=host, severity=Severity.CRITICAL, subject="/var", message="disk full", value=97)
    item = actors.call(client, "viewer", "get", "/api/alerts").json()["items"][0]
    assert item["host"] == "web-1" and item["service"] is None and item["rule"] == "cpu-high"
    assert item["state"] == "firing" and item["severity"] == "critical" and item["acknowledged"] is False
    assert item["acknowledged_by"] is None and item["acknowledged_note"] == "" and item["resolved_at"] is None
    assert "disk full" in item["summary"] and item["started_at"]


def test_acknowledging_records_the_note_and_who(client, actors):
    alert = fire()
    body = actors.call(client, "operator", "post", f"/api/alerts/{alert.pk}/ack", {"note": "rolling back"}).json()
    assert (body["acknowledged"], body["acknowledged_by"], body["acknowledged_note"]) == (
        True,
        "operator-user",
        "rolling back",
    )


def test_unacknowledging_clears_the_note(client, actors):
    alert = fire()
    actors.call(client, "operator", "post", f"/api/alerts/{alert.pk}/ack", {"note": "rolling back"})
    body = actors.call(client, "operator", "delete", f"/api/alerts/{alert.pk}/ack").json()
    assert (body["acknowledged"], body["acknowledged_by"], body["acknowledged_note"]) == (False, None, "")


def test_a_resolved_alert_cannot_be_acknowledged(client, actors):
    alert = fire()
    Alert.objects.resolve("cpu-high")
    response = actors.call(client, "operator", "post", f"/api/alerts/{alert.pk}/ack", {"note": ""})
    assert response.status_code == 409
    assert "resolved" in response.json()["detail"]


def test_a_note_too_long_is_a_422_naming_it(client, actors):
    alert = fire()
    response = actors.call(client, "operator", "post", f"/api/alerts/{alert.pk}/ack", {"note": "x" * 501})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "note"]
    alert.refresh_from_db()
    assert not alert.is_acknowledged


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_alert_is_a_json_404(client, actors, method):
    path = "/api/alerts/999999" + ("" if method == "get" else "/ack")
    response = actors.call(client, "operator", method, path, {"note": ""} if method == "post" else None)
    assert response.status_code == 404
    assert response.json()["detail"] == "no alert 999999"


def test_an_id_that_is_not_a_number_is_a_422_naming_it(client, actors):
    response = actors.call(client, "viewer", "get", "/api/alerts/web-1")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "alert_id"]


def test_the_detail_carries_transitions_oldest_first(client, actors):
    alert = fire(severity=Severity.WARNING)
    fire(severity=Severity.CRITICAL)
    Alert.objects.resolve("cpu-high")
    body = actors.call(client, "viewer", "get", f"/api/alerts/{alert.pk}").json()
    assert [t["kind"] for t in body["transitions"]] == ["triggered", "severity", "resolved"]


def test_the_detail_has_an_etag_that_changes_with_the_alert(client, actors):
    alert = fire()
    first = actors.call(client, "viewer", "get", f"/api/alerts/{alert.pk}")["ETag"]
    assert first == actors.call(client, "viewer", "get", f"/api/alerts/{alert.pk}")["ETag"]
    alert.acknowledge(None)
    assert actors.call(client, "viewer", "get", f"/api/alerts/{alert.pk}")["ETag"] != first


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=firing", {"a", "b"}),
        ("state=acknowledged", {"b"}),
        ("state=resolved", {"c"}),
        ("severity=critical", {"b"}),
        ("host=web-1", {"a", "c"}),
        ("service=billing", {"b"}),
        ("rule=a", {"a"}),
    ],
)
def test_filters(client, actors, host, query, expected):
    fire("a", host=host)
    acknowledged = fire("b", service="billing", severity=Severity.CRITICAL)
    acknowledged.acknowledge(None)
    fire("c", host=host)
    Alert.objects.resolve("c", host=host)
    items = actors.call(client, "viewer", "get", f"/api/alerts?{query}").json()["items"]
    assert {item["rule"] for item in items} == expected


def test_since_and_until_bound_the_start_time(client, actors):
    now = timezone.now()
    old = fire("old")
    Alert.objects.filter(pk=old.pk).update(started_at=now - timedelta(days=2))
    fire("new")
    since = (now - timedelta(days=1)).isoformat()
    items = actors.call(client, "viewer", "get", "/api/alerts", None, QUERY_STRING=f"since={since.replace('+', '%2B')}")
    assert [i["rule"] for i in items.json()["items"]] == ["new"]
    items = actors.call(client, "viewer", "get", "/api/alerts", None, QUERY_STRING=f"until={since.replace('+', '%2B')}")
    assert [i["rule"] for i in items.json()["items"]] == ["old"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=open", "state"), ("severity=meh", "severity"), ("since=yesterday", "since"), ("limit=0", "limit")],
)
def test_bad_filters_are_a_422_naming_the_field(client, actors, query, field):
    response = actors.call(client, "viewer", "get", f"/api/alerts?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


@pytest.mark.parametrize("moment", ["0.5", "1700000000", "2026-01-01T00:00:00"])
def test_a_naive_or_numeric_time_is_refused(client, actors, moment):
    response = actors.call(client, "viewer", "get", f"/api/alerts?until={moment}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "until"]


def test_a_naive_time_is_refused(client, actors):
    response = actors.call(client, "viewer", "get", "/api/alerts?since=2026-01-01T00:00:00")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "since"]


def test_a_forged_cursor_is_a_422_naming_it(client, actors):
    response = actors.call(client, "viewer", "get", "/api/alerts?cursor=bm90LWEtY3Vyc29y")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_paging_is_stable_under_inserts(client, actors):
    hosts = [Host.objects.create(name=f"h-{i}") for i in range(7)]
    start = timezone.now() - timedelta(hours=1)
    for i, h in enumerate(hosts):
        alert = fire(host=h)
        # Two alerts share each start time, so the id must break ties.
        Alert.objects.filter(pk=alert.pk).update(started_at=start + timedelta(minutes=i // 2))
    expected = list(Alert.objects.order_by("-started_at", "-pk").values_list("pk", flat=True))
    seen, cursor = [], None
    while True:
        page = actors.call(client, "viewer", "get", "/api/alerts?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        body = page.json()
        seen += [item["id"] for item in body["items"]]
        # Someone's alert fires between our pages, newer than everything: it must not shift the pages.
        fire(host=Host.objects.create(name=f"new-{len(seen)}"))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


def test_silenced_alerts_name_their_silences(client, actors, host):
    fire(host=host)
    silence = Silence.objects.create(ends_at=timezone.now() + timedelta(hours=1), reason="deploy")
    silence.hosts.add(host)
    item = actors.call(client, "viewer", "get", "/api/alerts").json()["items"][0]
    assert item["silenced_by"] == [silence.pk]


def test_acknowledging_twice_keeps_the_first(client, actors):
    alert = fire()
    actors.call(client, "operator", "post", f"/api/alerts/{alert.pk}/ack", {"note": "first"})
    body = actors.call(client, "admin", "post", f"/api/alerts/{alert.pk}/ack", {"note": "second"}).json()
    assert (body["acknowledged_by"], body["acknowledged_note"]) == ("operator-user", "first")
    assert Alert.objects.get(pk=alert.pk).state == AlertState.FIRING


def test_a_zone_offset_postgresql_cannot_store_is_taken_as_its_moment_in_utc(client, actors):
    # ISO 8601 allows offsets to 23:59, PostgreSQL to 15:59: the fuzz found a 500 there.
    fire("new")
    response = actors.call(client, "viewer", "get", "/api/alerts?until=1628-05-29T09:18:19.525-16:44")
    assert response.status_code == 200 and response.json()["items"] == []
    response = actors.call(client, "viewer", "get", "/api/alerts?since=1628-05-29T09:18:19.525-16:44")
    assert [i["rule"] for i in response.json()["items"]] == ["new"]
    response = actors.call(client, "viewer", "get", "/api/alerts?until=0001-01-01T00:00:00%2B16:00")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "until"]
