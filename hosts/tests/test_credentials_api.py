"""/api/hosts/{ident}/keys and /enrollment-tokens: agent credentials issued by operators, secrets shown once."""

from __future__ import annotations

import pytest

from audit.models import IdempotentRequest
from hosts.identity import IdentityRefused, require_key
from hosts.models import ApiKey, ApiKeyScope, EnrollmentToken
from statusdash.tests.api_actors import ADMINS, CALLERS, OPERATORS, READERS, expected_refusal, make_actors


@pytest.fixture
def actors(db):
    return make_actors()


@pytest.mark.parametrize("caller", CALLERS)
def test_issuing_credentials_takes_an_operator(client, actors, host, caller):
    wanted = 201 if caller in OPERATORS else expected_refusal(caller)
    assert actors.call(client, caller, "post", "/api/hosts/web-1/keys", {"label": "a"}).status_code == wanted
    assert actors.call(client, caller, "post", "/api/hosts/web-1/enrollment-tokens", {}).status_code == wanted


@pytest.mark.parametrize("caller", CALLERS)
def test_listing_keys_takes_read_rights(client, actors, host, caller):
    response = actors.call(client, caller, "get", "/api/hosts/web-1/keys")
    assert response.status_code == (200 if caller in READERS else expected_refusal(caller))


@pytest.mark.parametrize("caller", CALLERS)
def test_revoking_a_key_takes_an_admin(client, actors, host, caller):
    key, _ = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    response = actors.call(client, caller, "delete", f"/api/hosts/web-1/keys/{key.pk}")
    assert response.status_code == (200 if caller in ADMINS else expected_refusal(caller))


def test_a_new_key_works_for_its_host_and_is_shown_once(client, actors, host):
    body = actors.call(client, "operator", "post", "/api/hosts/web-1/keys", {"label": "agent"}).json()
    assert require_key(body["key"], ApiKeyScope.AGENT).host == host
    listed = actors.call(client, "viewer", "get", "/api/hosts/web-1/keys").json()["items"]
    assert [(k["prefix"], k["key"]) for k in listed] == [(body["prefix"], None)]


def test_a_retried_key_create_makes_one_key_and_stores_no_secret(client, actors, host):
    first = actors.call(client, "operator", "post", "/api/hosts/web-1/keys", {"label": "a"}, HTTP_IDEMPOTENCY_KEY="k")
    retry = actors.call(client, "operator", "post", "/api/hosts/web-1/keys", {"label": "a"}, HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == retry.status_code == 201
    assert first.json()["key"] and retry.json()["key"] is None
    assert {k: v for k, v in first.json().items() if k != "key"} == {
        k: v for k, v in retry.json().items() if k != "key"
    }
    assert ApiKey.objects.filter(host=host).count() == 1
    assert first.json()["key"] not in str(IdempotentRequest.objects.get().body)


def test_an_enrollment_token_for_the_host(client, actors, host):
    body = actors.call(client, "operator", "post", "/api/hosts/web-1/enrollment-tokens", {"hours": 2}).json()
    token = EnrollmentToken.objects.get(pk=body["id"])
    assert body["token"].startswith("sde_") and token.host == host
    assert 7100 < (token.expires_at - token.created_at).total_seconds() <= 7200


@pytest.mark.parametrize(("hours", "field"), [(0, "hours"), (10000, "hours"), ("soon", "hours")])
def test_a_bad_lifetime_is_a_422_naming_it(client, actors, host, hours, field):
    response = actors.call(client, "operator", "post", "/api/hosts/web-1/enrollment-tokens", {"hours": hours})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", field]
    assert not EnrollmentToken.objects.exists()


def test_a_label_too_long_is_a_422(client, actors, host):
    response = actors.call(client, "operator", "post", "/api/hosts/web-1/keys", {"label": "x" * 101})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "label"]


def test_a_revoked_key_is_refused(client, actors, host):
    key, raw = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    assert actors.call(client, "admin", "delete", f"/api/hosts/web-1/keys/{key.pk}").json()["revoked_at"]
    key.refresh_from_db()
    assert key.is_revoked
    with pytest.raises(IdentityRefused):
        require_key(raw, ApiKeyScope.AGENT)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/hosts/nope/keys"),
        ("get", "/api/hosts/nope/keys"),
        ("post", "/api/hosts/nope/enrollment-tokens"),
        ("delete", "/api/hosts/web-1/keys/4242"),
    ],
)
def test_unknown_hosts_and_keys_are_json_404s(client, actors, host, method, path):
    response = actors.call(client, "admin", method, path, {} if method == "post" else None)
    assert response.status_code == 404 and response.json()["detail"].startswith("no ")


def test_a_key_of_another_host_is_not_found_there(client, actors, host, cert_host):
    key, _ = ApiKey.issue(ApiKeyScope.AGENT, host=cert_host)
    assert actors.call(client, "admin", "delete", f"/api/hosts/web-1/keys/{key.pk}").status_code == 404
