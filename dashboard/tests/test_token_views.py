"""/account/tokens/: a person's own tokens listed, a new one shown once, revoking; bad input named."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import PersonalToken, hash_token
from accounts.roles import set_role


@pytest.fixture
def olga(db: Any) -> User:
    user = User.objects.create_user("olga")
    set_role(user, "operator")
    return user


@pytest.fixture
def signed_in(client: Client, olga: User) -> Client:
    client.force_login(olga)
    return client


@pytest.mark.django_db
def test_creating_shows_the_secret_once(signed_in: Client) -> None:
    created = signed_in.post("/account/tokens/", {"name": "grafana", "scope": "viewer", "expires_in_days": 30})
    assert created.status_code == 201
    secret = created.context["secret"]
    assert secret.startswith("sdp_") and secret in created.content.decode()
    assert PersonalToken.objects.get().hashed == hash_token(secret)
    again = signed_in.get("/account/tokens/").content.decode()
    assert "grafana" in again and secret not in again and secret[:12] in again


@pytest.mark.django_db
def test_the_list_shows_scope_dates_and_last_use(signed_in: Client, olga: User) -> None:
    token, _ = PersonalToken.issue(olga, "backup", "operator")
    page = signed_in.get("/account/tokens/").content.decode()
    row = page[page.index(f'id="token-{token.pk}"') :]
    assert "backup" in row and "operator" in row and "never" in row and f"{token.expires_at:%Y-%m-%d}" in row


@pytest.mark.django_db
def test_only_the_scopes_the_user_may_give_are_offered(signed_in: Client) -> None:
    page = signed_in.get("/account/tokens/").content.decode()
    assert 'value="operator"' in page and 'value="admin"' not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"scope": "viewer", "expires_in_days": 30}, "name"),
        ({"name": "x", "scope": "admin", "expires_in_days": 30}, "scope"),
        ({"name": "x", "scope": "viewer", "expires_in_days": 1000}, "expires_in_days"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(signed_in: Client, data: dict[str, Any], field: str) -> None:
    refused = signed_in.post("/account/tokens/", data)
    assert refused.status_code == 400
    assert field in refused.context["form"].errors
    assert not PersonalToken.objects.exists()


@pytest.mark.django_db
def test_revoking_ends_the_token_at_once(signed_in: Client, olga: User) -> None:
    token, raw = PersonalToken.issue(olga, "ci", "viewer")
    assert Client().get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert signed_in.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert Client().get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert "revoked" in signed_in.get("/account/tokens/").content.decode()


@pytest.mark.django_db
def test_another_users_token_cannot_be_revoked(signed_in: Client) -> None:
    other = User.objects.create_user("other")
    set_role(other, "viewer")
    token, _ = PersonalToken.issue(other, "theirs", "viewer")
    assert signed_in.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert signed_in.get("/account/tokens/").content.decode().count("theirs") == 0
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_the_page_needs_a_login(client: Client) -> None:
    assert client.get("/account/tokens/").status_code == 302


@pytest.mark.django_db
def test_revoking_takes_a_post(signed_in: Client, olga: User) -> None:
    token, _ = PersonalToken.issue(olga, "ci", "viewer")
    assert signed_in.get(f"/account/tokens/{token.pk}/revoke/").status_code == 405
