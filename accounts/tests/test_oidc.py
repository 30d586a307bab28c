"""Single sign-on: discovery from the real provider, roles from the claim, who is matched, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings

from accounts import oidc
from accounts.models import SsoIdentity
from accounts.roles import ADMIN, OPERATOR, VIEWER, role_of, set_role
from accounts.tests.oidc_support import CLIENT_ID, CLIENT_SECRET, oidc_provider
from statusdash.tests.support import free_port

pytestmark = pytest.mark.django_db

BACKENDS = ["accounts.backends.RoleBackend", "accounts.oidc.RoleClaimBackend"]


def sso_settings(issuer: str, **extra: Any) -> override_settings:
    return override_settings(
        OIDC_ISSUER=issuer,
        OIDC_ENABLED=True,
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET,
        AUTHENTICATION_BACKENDS=BACKENDS,
        **extra,
    )


@pytest.fixture(autouse=True)
def fresh_discovery() -> Iterator[None]:
    oidc.forget_discovery()
    yield
    oidc.forget_discovery()


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider("http://testserver") as url:
        yield url


@pytest.mark.parametrize(
    ("mapping", "groups", "role"),
    [
        ({}, ["viewer"], VIEWER),
        ({}, "operator", OPERATOR),  # one string, not a list
        ({}, ["viewer", "admin"], ADMIN),  # the highest wins
        ({}, ["admins"], None),  # no map: only the role names themselves
        ({"ops": OPERATOR, "admins": ADMIN}, ["staff", "ops"], OPERATOR),
        ({"ops": OPERATOR}, ["operator"], None),  # with a map, only its values
        ({}, None, None),
        ({}, [7, {"x": 1}], None),
    ],
)
def test_the_role_comes_from_the_claim_through_the_map(mapping: dict[str, str], groups: Any, role: str | None) -> None:
    with override_settings(OIDC_ROLE_MAP=mapping, OIDC_ROLE_CLAIM="groups"):
        assert oidc.role_from_claims({"sub": "x", "groups": groups}) == role


def test_discovery_reads_the_providers_endpoints(issuer: str) -> None:
    with sso_settings(issuer):
        document = oidc.discovery()
    assert document["issuer"] == issuer
    assert document["token_endpoint"] == f"{issuer}/token"


def test_the_sso_button_leads_to_the_providers_authorization_endpoint_with_pkce(client: Client, issuer: str) -> None:
    with sso_settings(issuer):
        assert "Sign in with SSO" in client.get("/login/").content.decode()
        response = client.get("/oidc/authenticate/?next=/alerts/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{issuer}/auth?")
    assert f"client_id={CLIENT_ID}" in location and "code_challenge_method=S256" in location
    # The provider knows the hub by PUBLIC_URL, not by the Host this request came with (testserver).
    assert f"redirect_uri={quote(settings.PUBLIC_URL, safe='')}%2Foidc%2Fcallback%2F&" in location
    assert client.session["oidc_login_next"] == "/alerts/"


def test_an_unreachable_provider_is_a_503_page(client: Client) -> None:
    with sso_settings(f"http://127.0.0.1:{free_port()}"):
        response = client.get("/oidc/authenticate/")
    assert response.status_code == 503
    assert "cannot reach its identity provider" in response.content.decode()


def test_sso_is_not_there_unless_configured(client: Client) -> None:
    assert "Sign in with SSO" not in client.get("/login/").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_a_callback_with_a_state_this_browser_never_sent_logs_no_one_in(client: Client, issuer: str) -> None:
    with sso_settings(issuer):
        client.get("/oidc/authenticate/")  # a real state in the session, not this one
        response = client.get("/oidc/callback/?code=stolen&state=forged")
    assert response.status_code == 302 and response["Location"] == "/login/sso-refused/"
    assert "_auth_user_id" not in client.session


def test_a_callback_with_a_code_the_provider_never_issued_logs_no_one_in(client: Client, issuer: str) -> None:
    with sso_settings(issuer):
        client.get("/oidc/authenticate/")
        state = next(iter(client.session["oidc_states"]))
        response = client.get(f"/oidc/callback/?code=made-up&state={state}")
    assert response.status_code == 302 and response["Location"] == "/login/sso-refused/"
    assert "_auth_user_id" not in client.session


def test_the_refusal_page_names_the_claim(client: Client) -> None:
    response = client.get("/login/sso-refused/")
    assert response.status_code == 403 and "groups" in response.content.decode()


def sign_in(claims: dict[str, Any]) -> User | None:
    """The backend's part of a sign-in once the provider's answer is verified."""
    backend = oidc.RoleClaimBackend()
    backend.id_token_subject = claims["sub"]
    if not backend.verify_claims(claims):
        return None
    users = backend.filter_users_by_claims(claims)
    return backend.update_user(users[0], claims) if users else backend.create_user(claims)


@sso_settings("https://id.example.test", OIDC_ROLE_MAP={"ops": OPERATOR, "admins": ADMIN})
def test_the_role_is_updated_at_each_sign_in() -> None:
    user = sign_in({"sub": "u1", "preferred_username": "alice", "groups": ["ops"]})
    assert user is not None and role_of(user) == OPERATOR
    again = sign_in({"sub": "u1", "preferred_username": "alice", "groups": ["admins"]})
    assert again == user
    assert role_of(User.objects.get(pk=user.pk)) == ADMIN and User.objects.get(pk=user.pk).is_staff


@sso_settings("https://id.example.test", OIDC_ROLE_MAP={"ops": OPERATOR})
def test_a_user_whose_claim_lost_its_role_is_refused_and_loses_the_role_here() -> None:
    user = sign_in({"sub": "u1", "preferred_username": "alice", "groups": ["ops"]})
    assert sign_in({"sub": "u1", "preferred_username": "alice", "groups": []}) is None
    assert role_of(User.objects.get(pk=user.pk)) is None  # type: ignore[union-attr]


@sso_settings("https://id.example.test")
def test_a_provider_account_named_like_a_local_user_does_not_become_that_user() -> None:
    local = User.objects.create_superuser("admin", password="a-long-password")
    user = sign_in({"sub": "someone", "preferred_username": "admin", "groups": ["viewer"]})
    assert user is not None and user.pk != local.pk
    assert user.username == "admin-2"
    assert role_of(User.objects.get(pk=local.pk)) == ADMIN  # untouched


@sso_settings("https://id.example.test")
def test_the_same_subject_at_another_issuer_is_another_user() -> None:
    first = sign_in({"sub": "u1", "preferred_username": "alice", "groups": ["viewer"]})
    with override_settings(OIDC_ISSUER="https://other.example.test"):
        second = sign_in({"sub": "u1", "preferred_username": "alice", "groups": ["viewer"]})
    assert first is not None and second is not None and first.pk != second.pk
    assert SsoIdentity.objects.count() == 2


@sso_settings("https://id.example.test")
def test_userinfo_for_another_subject_than_the_id_tokens_is_refused() -> None:
    backend = oidc.RoleClaimBackend()
    backend.id_token_subject = "u1"
    assert not backend.verify_claims({"sub": "u2", "groups": ["admin"]})


@sso_settings("https://id.example.test")
def test_an_sso_session_owes_no_second_factor_here(client: Client) -> None:
    from accounts.tests.totp import enroll

    user = sign_in({"sub": "u1", "preferred_username": "alice", "groups": ["admin"]})
    assert user is not None
    enroll(user)
    client.force_login(user, backend="accounts.oidc.RoleClaimBackend")
    assert client.get("/").status_code == 200


def test_local_users_keep_working_beside_sso(client: Client) -> None:
    user = User.objects.create_user("local", password="a-long-password")
    set_role(user, VIEWER)
    assert client.post("/login/", {"username": "local", "password": "a-long-password"}).status_code == 302
