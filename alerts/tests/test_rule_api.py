"""/api/rules: threshold rules, read by readers, changed by admins only."""

from __future__ import annotations

import pytest

from alerts.models import AlertRule
from statusdash.tests.api_actors import ADMINS, CALLERS, READERS, expected_refusal, make_actors


@pytest.fixture
def actors(db):
    return make_actors()


NEW = {"name": "disk-low", "metric": "disk", "warning_level": 85, "critical_level": 95, "subject": "/var"}


@pytest.fixture
def rule(db):
    return AlertRule.objects.create(name="cpu-busy", metric="cpu", warning_level=80)


@pytest.mark.parametrize("caller", CALLERS)
def test_reading_rules_takes_read_rights(client, actors, rule, caller):
    for path in ("/api/rules", f"/api/rules/{rule.pk}"):
        assert actors.call(client, caller, "get", path).status_code == (
            200 if caller in READERS else expected_refusal(caller)
        )


@pytest.mark.parametrize("caller", CALLERS)
def test_changing_rules_takes_an_admin(client, actors, rule, caller):
    wanted = (201, 200, 204) if caller in ADMINS else (expected_refusal(caller),) * 3
    got = (
        actors.call(client, caller, "post", "/api/rules", NEW).status_code,
        actors.call(client, caller, "patch", f"/api/rules/{rule.pk}", {"warning_level": 70}).status_code,
        actors.call(client, caller, "delete", f"/api/rules/{rule.pk}").status_code,
    )
    assert got == wanted
    assert AlertRule.objects.filter(name="disk-low").exists() == (caller in ADMINS)


def test_an_admin_adds_a_rule_for_one_host(client, actors, host):
    body = actors.call(client, "admin", "post", "/api/rules", {**NEW, "host": "web-1"}).json()
    assert (body["name"], body["host"], body["critical_level"], body["subject"]) == ("disk-low", "web-1", 95, "/var")
    assert AlertRule.objects.get(name="disk-low").host == host


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "metric": "mood"}, "metric"),
        ({**NEW, "name": "has space"}, "name"),
        ({**NEW, "critical_level": 50}, "critical_level"),
        ({**NEW, "clear_level": 90}, "clear_level"),
        ({**NEW, "metric": "cpu"}, "subject"),
        ({**NEW, "host": "nope"}, "host"),
        ({**NEW, "duration_seconds": -1}, "duration_seconds"),
        ({k: v for k, v in NEW.items() if k != "warning_level"}, "warning_level"),
    ],
)
def test_bad_rules_are_a_422_naming_the_field(client, actors, body, field):
    before = AlertRule.objects.count()
    response = actors.call(client, "admin", "post", "/api/rules", body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert AlertRule.objects.count() == before


def test_a_taken_name_is_a_409(client, actors, rule):
    response = actors.call(client, "admin", "post", "/api/rules", {**NEW, "name": "cpu-busy"})
    assert response.status_code == 409 and "cpu-busy" in response.json()["detail"]


def test_patch_changes_only_what_it_names(client, actors, rule, host):
    response = actors.call(client, "admin", "patch", f"/api/rules/{rule.pk}", {"warning_level": 70, "host": "web-1"})
    assert response.status_code == 200
    rule.refresh_from_db()
    assert (rule.warning_level, rule.host, rule.metric, rule.name) == (70, host, "cpu", "cpu-busy")
    response = actors.call(client, "admin", "patch", f"/api/rules/{rule.pk}", {"host": None})
    rule.refresh_from_db()
    assert rule.host is None


def test_an_invalid_patch_changes_nothing(client, actors, rule):
    response = actors.call(client, "admin", "patch", f"/api/rules/{rule.pk}", {"critical_level": 10})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "critical_level"]
    rule.refresh_from_db()
    assert rule.critical_level is None


def test_a_stale_if_match_is_a_412(client, actors, rule):
    etag = actors.call(client, "viewer", "get", f"/api/rules/{rule.pk}")["ETag"]
    assert (
        actors.call(
            client, "admin", "patch", f"/api/rules/{rule.pk}", {"warning_level": 60}, HTTP_IF_MATCH=etag
        ).status_code
        == 200
    )
    stale = actors.call(client, "admin", "patch", f"/api/rules/{rule.pk}", {"warning_level": 50}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["detail"]
    assert actors.call(client, "admin", "delete", f"/api/rules/{rule.pk}", HTTP_IF_MATCH=etag).status_code == 412
    rule.refresh_from_db()
    assert rule.warning_level == 60


def test_delete_with_the_current_etag(client, actors, rule):
    etag = actors.call(client, "viewer", "get", f"/api/rules/{rule.pk}")["ETag"]
    assert actors.call(client, "admin", "delete", f"/api/rules/{rule.pk}", HTTP_IF_MATCH=etag).status_code == 204
    assert not AlertRule.objects.filter(pk=rule.pk).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_rule_is_a_json_404(client, actors, method):
    response = actors.call(client, "admin", method, "/api/rules/4242", {} if method == "patch" else None)
    assert response.status_code == 404 and response.json()["detail"] == "no rule 4242"


def test_a_retried_create_returns_the_first_answer(client, actors):
    first = actors.call(client, "admin", "post", "/api/rules", NEW, HTTP_IDEMPOTENCY_KEY="k1")
    retry = actors.call(client, "admin", "post", "/api/rules", NEW, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == retry.status_code == 201 and first.json() == retry.json()
    assert AlertRule.objects.filter(name="disk-low").count() == 1
    other = actors.call(client, "admin", "post", "/api/rules", {**NEW, "name": "x"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_paging_by_name_is_stable_under_inserts(client, actors):
    AlertRule.objects.all().delete()
    for name in ("b", "d", "f", "h", "j"):
        AlertRule.objects.create(name=name, metric="cpu", warning_level=80)
    first = actors.call(client, "viewer", "get", "/api/rules?limit=2").json()
    AlertRule.objects.create(name="a", metric="cpu", warning_level=80)  # before the cursor: not shown later
    AlertRule.objects.create(name="e", metric="cpu", warning_level=80)  # after it: shown in its place
    second = actors.call(client, "viewer", "get", f"/api/rules?limit=2&cursor={first['next_cursor']}").json()
    third = actors.call(client, "viewer", "get", f"/api/rules?limit=9&cursor={second['next_cursor']}").json()
    names = [r["name"] for page in (first, second, third) for r in page["items"]]
    assert names == ["b", "d", "e", "f", "h", "j"]
    assert third["next_cursor"] is None
