"""/api/hosts: create, change (tags, public, enabled), delete (certificates revoked); list paging; ETag on the settings."""

from __future__ import annotations

import pytest

from hosts import pki
from hosts.models import Certificate, Host
from services.models import PublicHost
from statusdash.tests.api_actors import ADMINS, CALLERS, OPERATORS, expected_refusal, make_actors


@pytest.fixture
def actors(db):
    return make_actors()


NEW = {"name": "db-1", "display_name": "DB 1", "tags": ["prod"], "public": True}


@pytest.mark.parametrize("caller", CALLERS)
def test_adding_and_changing_hosts_takes_an_operator(client, actors, host, caller):
    wanted = (201, 200) if caller in OPERATORS else (expected_refusal(caller),) * 2
    got = (
        actors.call(client, caller, "post", "/api/hosts", NEW).status_code,
        actors.call(client, caller, "patch", "/api/hosts/web-1", {"tags": ["x"]}).status_code,
    )
    assert got == wanted
    assert Host.objects.filter(name="db-1").exists() == (caller in OPERATORS)


@pytest.mark.parametrize("caller", CALLERS)
def test_deleting_a_host_takes_an_admin(client, actors, host, caller):
    response = actors.call(client, caller, "delete", "/api/hosts/web-1")
    assert response.status_code == (204 if caller in ADMINS else expected_refusal(caller))
    assert Host.objects.filter(name="web-1").exists() == (caller not in ADMINS)


def test_an_operator_adds_a_public_host(client, actors):
    body = actors.call(client, "operator", "post", "/api/hosts", NEW).json()
    assert (body["name"], body["tags"], body["public"], body["enabled"]) == ("db-1", ["prod"], True, True)
    assert PublicHost.objects.filter(host__name="db-1").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "name": "Not A Host"}, "name"),
        ({**NEW, "name": ""}, "name"),
        ({**NEW, "tags": ["x" * 41]}, "tags"),
        ({**NEW, "tags": "prod"}, "tags"),
        ({**NEW, "enabled": "maybe"}, "enabled"),
    ],
)
def test_bad_hosts_are_a_422_naming_the_field(client, actors, body, field):
    response = actors.call(client, "operator", "post", "/api/hosts", body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    assert not Host.objects.exists()


def test_a_taken_name_is_a_409(client, actors, host):
    assert actors.call(client, "operator", "post", "/api/hosts", {**NEW, "name": "web-1"}).status_code == 409


def test_patch_changes_tags_public_and_enabled(client, actors, host):
    response = actors.call(
        client, "operator", "patch", "/api/hosts/web-1", {"tags": ["rack-2"], "public": True, "enabled": False}
    )
    assert response.status_code == 200
    host.refresh_from_db()
    assert (host.tags, host.enabled, host.display_name) == (["rack-2"], False, "Web 1")
    assert PublicHost.objects.filter(host=host).exists()
    actors.call(client, "operator", "patch", "/api/hosts/web-1", {"public": False})
    assert not PublicHost.objects.filter(host=host).exists()


def test_a_null_field_in_a_patch_is_a_422(client, actors, host):
    response = actors.call(client, "operator", "patch", "/api/hosts/web-1", {"tags": None})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "tags"]


def test_the_etag_tracks_the_settings_and_a_stale_one_is_a_412(client, actors, host):
    etag = actors.call(client, "viewer", "get", "/api/hosts/web-1")["ETag"]
    assert etag == actors.call(client, "viewer", "get", "/api/hosts/web-1")["ETag"]
    changed = actors.call(client, "operator", "patch", "/api/hosts/web-1", {"tags": ["a"]}, HTTP_IF_MATCH=etag)
    assert (
        changed.status_code == 200
        and changed["ETag"] == actors.call(client, "viewer", "get", "/api/hosts/web-1")["ETag"]
    )
    stale = actors.call(client, "operator", "patch", "/api/hosts/web-1", {"tags": ["b"]}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["detail"]
    assert actors.call(client, "admin", "delete", "/api/hosts/web-1", HTTP_IF_MATCH=etag).status_code == 412
    host.refresh_from_db()
    assert host.tags == ["a"]


def test_deleting_a_host_revokes_its_certificates(client, actors, ca, cert_host):
    certificate, _ = Certificate.issue_client(cert_host, pki.generate_key().public_key(), days=20)
    assert actors.call(client, "admin", "delete", "/api/hosts/agent-1").status_code == 204
    certificate.refresh_from_db()
    assert certificate.is_revoked and "deleted" in certificate.revocation_reason


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_host_is_a_json_404(client, actors, method):
    response = actors.call(client, "admin", method, "/api/hosts/nope", {} if method == "patch" else None)
    assert response.status_code == 404 and response.json()["detail"] == "no host 'nope'"


def test_a_retried_create_returns_the_first_answer(client, actors):
    first = actors.call(client, "operator", "post", "/api/hosts", NEW, HTTP_IDEMPOTENCY_KEY="h1")
    retry = actors.call(client, "operator", "post", "/api/hosts", NEW, HTTP_IDEMPOTENCY_KEY="h1")
    assert (first.status_code, first.json()) == (retry.status_code, retry.json()) and first.status_code == 201
    assert Host.objects.count() == 1


def test_the_list_keeps_its_shape_and_pages_on_request(client, actors):
    for name in ("a-1", "c-1", "e-1"):
        Host.objects.create(name=name)
    everything = actors.call(client, "viewer", "get", "/api/hosts").json()
    assert [h["name"] for h in everything] == ["a-1", "c-1", "e-1"]
    first = actors.call(client, "viewer", "get", "/api/hosts?limit=2")
    assert [h["name"] for h in first.json()] == ["a-1", "c-1"] and 'rel="next"' in first["Link"]
    Host.objects.create(name="b-1")  # before the cursor: not shown later, nothing shifts
    rest = actors.call(client, "viewer", "get", f"/api/hosts?limit=2&cursor={first['X-Next-Cursor']}")
    assert [h["name"] for h in rest.json()] == ["e-1"] and "Link" not in rest
