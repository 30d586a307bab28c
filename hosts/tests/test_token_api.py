"""Personal tokens over HTTP: /api/tokens (list, create once-shown, revoke), and using one as a bearer:
scope, expiry, revocation and demotion take effect on the next request; JWTs carry the role."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from ninja.errors import HttpError

from accounts.models import PersonalToken
from accounts.roles import set_role
from hosts.auth import JWT_ALGORITHM, JWT_AUDIENCE, RoleBearer, issue_token


@pytest.fixture
def boss(db: Any) -> User:
    user = User.objects.create_user("boss", password="correct horse battery")
    set_role(user, "admin")
    return user


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post_json(client: Client, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


def add_rule(token: str, name: str = "busy") -> int:
    """An admin's route: POST /api/rules."""
    body = {"name": name, "metric": "cpu", "warning_level": 80}
    return post_json(Client(), "/api/rules", body, **bearer(token)).status_code


def read_hosts(token: str) -> int:
    return Client().get("/api/hosts", **bearer(token)).status_code


def issue(user: User, scope: str, days: int = 30) -> str:
    return PersonalToken.issue(user, "script", scope, days)[1]


@pytest.mark.django_db
def test_create_shows_the_secret_once(client: Client, boss: User) -> None:
    client.force_login(boss)
    created = post_json(client, "/api/tokens", {"name": "grafana", "scope": "viewer", "expires_in_days": 7})
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("sdp_") and body["scope"] == "viewer" and body["active"] is True
    listed = client.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["grafana"]
    assert "token" not in listed[0] and body["token"] not in json.dumps(listed)
    assert read_hosts(body["token"]) == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scope", "reads", "adds_a_rule"), [("viewer", 200, 403), ("operator", 200, 403), ("admin", 200, 201)]
)
def test_a_token_acts_with_its_scope(boss: User, scope: str, reads: int, adds_a_rule: int) -> None:
    token = issue(boss, scope)
    assert (read_hosts(token), add_rule(token)) == (reads, adds_a_rule)


@pytest.mark.django_db
@pytest.mark.parametrize(("scope", "allowed"), [("viewer", False), ("operator", True)])
def test_an_operator_route_takes_an_operator_token(boss: User, scope: str, allowed: bool) -> None:
    request = RequestFactory().post("/")
    token = issue(boss, scope)
    if allowed:
        assert RoleBearer("operator").authenticate(request, token) == boss
    else:
        with pytest.raises(HttpError) as refused:
            RoleBearer("operator").authenticate(request, token)
        assert refused.value.status_code == 403


@pytest.mark.django_db
def test_a_demoted_users_token_shrinks_on_the_next_request(boss: User) -> None:
    token = issue(boss, "admin")
    assert add_rule(token, "one") == 201
    set_role(boss, "operator")
    assert add_rule(token, "two") == 403
    assert read_hosts(token) == 200


@pytest.mark.django_db
def test_a_revoked_token_is_refused_on_the_next_request(client: Client, boss: User) -> None:
    client.force_login(boss)
    created = post_json(client, "/api/tokens", {"name": "ci", "scope": "viewer"}).json()
    assert read_hosts(created["token"]) == 200
    assert client.delete(f"/api/tokens/{created['id']}").status_code == 204
    refused = Client().get("/api/hosts", **bearer(created["token"]))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


@pytest.mark.django_db
def test_an_expired_token_is_refused(boss: User) -> None:
    token = issue(boss, "viewer", days=1)
    with time_machine.travel(timedelta(days=1, seconds=1)):
        refused = Client().get("/api/hosts", **bearer(token))
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


@pytest.mark.django_db
def test_an_unknown_personal_token_is_a_401(db: Any) -> None:
    assert read_hosts("sdp_" + "x" * 43) == 401


@pytest.mark.django_db
def test_a_token_cannot_make_a_token_with_more_than_its_own_scope(boss: User) -> None:
    token = issue(boss, "operator")
    refused = post_json(Client(), "/api/tokens", {"name": "more", "scope": "admin"}, **bearer(token))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-1] == "scope"
    made = post_json(Client(), "/api/tokens", {"name": "less", "scope": "viewer"}, **bearer(token))
    assert made.status_code == 201
    assert PersonalToken.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "viewer"}, "name"),
        ({"name": "", "scope": "viewer"}, "name"),
        ({"name": "   ", "scope": "viewer"}, "name"),
        ({"name": "x" * 101, "scope": "viewer"}, "name"),
        ({"name": "ci"}, "scope"),
        ({"name": "ci", "scope": "root"}, "scope"),
        ({"name": "ci", "scope": "viewer", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ci", "scope": "viewer", "expires_in_days": 366}, "expires_in_days"),
        ({"name": "ci", "scope": "viewer", "expires_in_days": "soon"}, "expires_in_days"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client: Client, boss: User, body: dict[str, Any], field: str) -> None:
    client.force_login(boss)
    refused = post_json(client, "/api/tokens", body)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-1] == field
    assert not PersonalToken.objects.exists()


@pytest.mark.django_db
def test_a_user_with_no_role_gets_no_token(client: Client, db: Any) -> None:
    client.force_login(User.objects.create_user("nobody"))
    refused = post_json(client, "/api/tokens", {"name": "ci", "scope": "viewer"})
    assert refused.status_code in (403, 422)
    assert not PersonalToken.objects.exists()


@pytest.mark.django_db
def test_another_users_token_cannot_be_seen_or_revoked(client: Client, boss: User) -> None:
    other = User.objects.create_user("other")
    set_role(other, "viewer")
    token, _ = PersonalToken.issue(other, "theirs", "viewer")
    client.force_login(boss)
    assert client.get("/api/tokens").json() == []
    assert client.delete(f"/api/tokens/{token.pk}").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_the_api_needs_a_login(db: Any) -> None:
    assert Client().get("/api/tokens").status_code == 401


@pytest.mark.django_db
def test_a_jwt_carries_the_role(boss: User) -> None:
    token, _ = issue_token(boss)
    claims = jwt.decode(token, settings.STATUS_JWT_SECRET, algorithms=[JWT_ALGORITHM], audience=JWT_AUDIENCE)
    assert claims["role"] == "admin"


@pytest.mark.django_db
def test_a_jwt_acts_with_the_lesser_of_its_claim_and_the_users_role(boss: User) -> None:
    token, _ = issue_token(boss)
    assert add_rule(token, "one") == 201
    set_role(boss, "operator")
    assert add_rule(token, "two") == 403
    set_role(boss, "admin")
    viewer_claim = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "role": "viewer"},
        settings.STATUS_JWT_SECRET,
        algorithm=JWT_ALGORITHM,
    )
    assert add_rule(viewer_claim, "three") == 403


@pytest.mark.django_db
def test_an_api_key_cannot_manage_tokens(read_key: str, agent_key: str) -> None:
    for headers in ({"HTTP_X_API_KEY": read_key}, {"HTTP_X_API_KEY": agent_key}, bearer(read_key), bearer(agent_key)):
        assert Client().get("/api/tokens", **headers).status_code == 403, headers


@pytest.mark.django_db
def test_the_openapi_document_keeps_the_jwt_and_personal_token_schemas_apart(client: Client) -> None:
    document = client.get("/api/openapi.json").json()
    schemas = document["components"]["schemas"]
    jwt_body = document["paths"]["/api/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(schemas[jwt_body["$ref"].rsplit("/", 1)[-1]]["properties"]) == {"username", "password", "otp"}
    assert {"name", "scope", "expires_in_days"} == set(schemas["PersonalTokenIn"]["properties"])


@pytest.mark.django_db
def test_a_retried_create_with_the_same_idempotency_key_makes_one_token(boss: User) -> None:
    client = Client()
    client.force_login(boss)
    body = {"name": "deploy", "scope": "viewer", "expires_in_days": 7}
    first = post_json(client, "/api/tokens", body, HTTP_IDEMPOTENCY_KEY="retry-1")
    again = post_json(client, "/api/tokens", body, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["token"].startswith("sdp_") and again.json()["token"] is None
    assert again.json()["id"] == first.json()["id"]
    assert PersonalToken.objects.filter(user=boss).count() == 1
