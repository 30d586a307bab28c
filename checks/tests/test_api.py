from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from checks.models import Check, CheckState, Outcome
from hosts.auth import issue_token


@pytest.fixture
def admin_client(db, client):
    User.objects.create_user("root", password="pw-root-123", is_staff=True)
    client.login(username="root", password="pw-root-123")
    return client


def post(client, body, **headers):
    return client.post("/api/checks", body, content_type="application/json", **headers)


NEW = {"name": "site", "kind": "http", "target": "https://example.test/", "options": {"keyword": "Welcome"}}


def test_admin_adds_a_check(admin_client):
    response = post(admin_client, NEW)
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["runs_on"], body["options"], body["state"]) == (
        "site",
        "hub",
        {"keyword": "Welcome"},
        "unknown",
    )
    assert Check.objects.get().interval == 60


def test_admin_token_may_write(db, client):
    user = User.objects.create_user("ops", password="pw-ops-1234", is_staff=True)
    token, _ = issue_token(user)
    assert post(client, NEW, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 201


def test_read_key_may_read_but_not_write(db, client, read_key):
    assert client.get("/api/checks", HTTP_X_API_KEY=read_key).status_code == 200
    response = post(client, NEW, HTTP_AUTHORIZATION=f"Bearer {read_key}")
    assert response.status_code == 403
    assert not Check.objects.exists()


def test_plain_user_may_not_write(viewer_client):
    assert post(viewer_client, NEW).status_code == 403


def test_anonymous_may_not_read(db, client):
    assert client.get("/api/checks").status_code == 401


def test_anonymous_may_not_write_and_is_told_to_authenticate(db):
    # No session cookie, so nothing for CSRF to guard: a 401, not "CSRF check Failed".
    response = post(Client(enforce_csrf_checks=True), NEW)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("authentication required")
    assert not Check.objects.exists()


def test_an_admin_session_without_the_csrf_token_may_not_write(db):
    User.objects.create_user("root", password="pw-root-123", is_staff=True)
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="root", password="pw-root-123")
    response = post(browser, NEW)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Check.objects.exists()


def test_target_that_is_not_a_url_is_422_naming_the_field(admin_client):
    response = post(admin_client, {**NEW, "target": "not a url"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "target"]
    assert not Check.objects.exists()


def test_plugin_outside_the_allow_list_is_422(admin_client):
    response = post(admin_client, {**NEW, "kind": "plugin", "target": "/usr/lib/nagios/plugins/../../../bin/sh"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "target"]


def test_interval_out_of_range_is_422(admin_client):
    response = post(admin_client, {**NEW, "interval": 5})
    assert response.status_code == 422
    assert ["body", "interval"] in [e["loc"] for e in response.json()["detail"]]


def test_unknown_kind_is_422(admin_client):
    assert post(admin_client, {**NEW, "kind": "smtp"}).status_code == 422


def test_same_name_twice_is_422(admin_client):
    post(admin_client, NEW)
    response = post(admin_client, NEW)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


def test_secrets_are_never_returned(admin_client):
    response = post(admin_client, {**NEW, "username": "u", "password": "hunter2", "bearer_token": "tok"})
    assert "hunter2" not in response.content.decode()
    assert response.json()["has_credentials"] is True
    assert "hunter2" not in admin_client.get("/api/checks/site").content.decode()


def test_get_by_id_or_name(admin_client):
    check_id = post(admin_client, NEW).json()["id"]
    assert admin_client.get(f"/api/checks/{check_id}").json()["name"] == "site"
    assert admin_client.get("/api/checks/site").json()["id"] == check_id
    assert admin_client.get("/api/checks/nothing").status_code == 404


def test_patch_changes_only_what_is_given(admin_client):
    post(admin_client, NEW)
    response = admin_client.patch("/api/checks/site", {"interval": 120}, content_type="application/json")
    assert response.status_code == 200
    check = Check.objects.get()
    assert (check.interval, check.options) == (120, {"keyword": "Welcome"})


def test_bad_patch_writes_nothing(admin_client):
    post(admin_client, NEW)
    response = admin_client.patch(
        "/api/checks/site", {"interval": 120, "target": "nope"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert Check.objects.get().interval == 60


def test_delete(admin_client):
    post(admin_client, NEW)
    assert admin_client.delete("/api/checks/site").status_code == 204
    assert not Check.objects.exists()


def test_results_over_a_range(admin_client):
    post(admin_client, NEW)
    check = Check.objects.get()
    check.record(Outcome(CheckState.OK, "old", 5), at=timezone.now() - timedelta(hours=3))
    check.record(Outcome(CheckState.CRITICAL, "new", None))
    body = admin_client.get("/api/checks/site/results?range=1h").json()
    assert [r["message"] for r in body["results"]] == ["new"]
    body = admin_client.get("/api/checks/site/results?range=1d").json()
    assert [r["message"] for r in body["results"]] == ["new", "old"]


@pytest.mark.parametrize("range_", ["forever", "91d", "-1h"])
def test_bad_range_is_422(admin_client, range_):
    post(admin_client, NEW)
    response = admin_client.get(f"/api/checks/site/results?range={range_}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "range"]


def test_filters_by_state_and_tag(admin_client):
    post(admin_client, {**NEW, "tags": ["web"]})
    post(admin_client, {**NEW, "name": "db", "kind": "tcp", "target": "db.example:5432", "options": {}})
    assert [c["name"] for c in admin_client.get("/api/checks?tag=web").json()] == ["site"]
    assert [c["name"] for c in admin_client.get("/api/checks?kind=tcp").json()] == ["db"]


def test_endpoints_are_in_the_openapi_document(db, client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/checks", "/api/checks/{ref}", "/api/checks/{ref}/results"} <= set(paths)


# --- the conventions every route follows (docs/api.md) ----------------------

from statusdash.tests.api_actors import ADMINS, CALLERS, OPERATORS, READERS, expected_refusal, make_actors  # noqa: E402


@pytest.fixture
def actors(db):
    return make_actors()


@pytest.mark.parametrize("caller", CALLERS)
def test_auth_matrix(client, actors, caller):
    site = Check.objects.create(name="site", kind="http", target="https://example.test/")
    got = (
        actors.call(client, caller, "get", "/api/checks").status_code,
        actors.call(client, caller, "get", "/api/checks/site").status_code,
        actors.call(client, caller, "post", "/api/checks", {**NEW, "name": "other"}).status_code,
        actors.call(client, caller, "patch", "/api/checks/site", {"interval": 120}).status_code,
        actors.call(client, caller, "delete", f"/api/checks/{site.pk}").status_code,
    )
    refused = expected_refusal(caller)
    assert got == (
        200 if caller in READERS else refused,
        200 if caller in READERS else refused,
        201 if caller in OPERATORS else refused,
        200 if caller in OPERATORS else refused,
        204 if caller in ADMINS else refused,
    )


def test_a_stale_if_match_is_a_412(client, actors):
    Check.objects.create(name="site", kind="http", target="https://example.test/")
    etag = actors.call(client, "viewer", "get", "/api/checks/site")["ETag"]
    assert (
        actors.call(client, "operator", "patch", "/api/checks/site", {"interval": 120}, HTTP_IF_MATCH=etag).status_code
        == 200
    )
    stale = actors.call(client, "operator", "patch", "/api/checks/site", {"interval": 300}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["detail"]
    assert actors.call(client, "admin", "delete", "/api/checks/site", HTTP_IF_MATCH=etag).status_code == 412
    assert Check.objects.get(name="site").interval == 120


def test_a_new_password_changes_the_etag(client, actors):
    Check.objects.create(name="site", kind="http", target="https://example.test/")
    etag = actors.call(client, "viewer", "get", "/api/checks/site")["ETag"]
    Check.objects.filter(name="site").update(password="new-secret")
    assert actors.call(client, "viewer", "get", "/api/checks/site")["ETag"] != etag


def test_a_retried_create_returns_the_first_answer(client, actors):
    first = actors.call(client, "operator", "post", "/api/checks", NEW, HTTP_IDEMPOTENCY_KEY="c-1")
    retry = actors.call(client, "operator", "post", "/api/checks", NEW, HTTP_IDEMPOTENCY_KEY="c-1")
    assert (first.status_code, first.json()) == (retry.status_code, retry.json()) and first.status_code == 201
    assert Check.objects.count() == 1
    other = actors.call(client, "operator", "post", "/api/checks", {**NEW, "name": "b"}, HTTP_IDEMPOTENCY_KEY="c-1")
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_paging_is_stable_under_inserts(client, actors):
    for name in ("b", "d", "f"):
        Check.objects.create(name=name, kind="http", target="https://example.test/")
    first = actors.call(client, "viewer", "get", "/api/checks?limit=2")
    assert [c["name"] for c in first.json()] == ["b", "d"] and 'rel="next"' in first["Link"]
    Check.objects.create(name="a", kind="http", target="https://example.test/")
    rest = actors.call(client, "viewer", "get", f"/api/checks?limit=2&cursor={first['X-Next-Cursor']}")
    assert [c["name"] for c in rest.json()] == ["f"] and "Link" not in rest


@pytest.mark.parametrize("ref", ["²", "99999999999999999999999"])
def test_odd_numeric_refs_are_a_json_404(client, actors, ref):
    response = actors.call(client, "viewer", "get", f"/api/checks/{ref}")
    assert response.status_code == 404 and response.json()["detail"].startswith("no check")
