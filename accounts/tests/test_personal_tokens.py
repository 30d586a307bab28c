"""Personal tokens: at most the owner's role, the lesser of scope and role when used, hashed, expiring, revocable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import PersonalToken, TokenRefused, TokenUnusable, hash_token, lesser
from accounts.roles import set_role


@pytest.fixture
def operator(db: Any) -> User:
    user = User.objects.create_user("olga")
    set_role(user, "operator")
    return user


def test_the_lesser_role_wins() -> None:
    assert lesser("admin", "operator") == "operator"
    assert lesser("viewer", "admin") == "viewer"
    assert lesser("operator", None) is None


@pytest.mark.django_db
def test_the_secret_is_stored_only_as_its_hash(operator: User) -> None:
    token, raw = PersonalToken.issue(operator, "ci", "viewer")
    assert raw.startswith("sdp_") and len(raw) > 40
    stored = PersonalToken.objects.filter(pk=token.pk).values().get()
    assert raw not in [str(value) for value in stored.values()]
    assert stored["hashed"] == hash_token(raw) and raw.startswith(stored["prefix"])


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["viewer", "operator"])
def test_a_token_may_have_the_owners_role_or_less(operator: User, scope: str) -> None:
    token, _ = PersonalToken.issue(operator, "ci", scope)
    assert token.effective_role() == scope


@pytest.mark.django_db
def test_a_token_may_not_exceed_the_owners_role(operator: User) -> None:
    with pytest.raises(TokenRefused) as refused:
        PersonalToken.issue(operator, "ci", "admin")
    assert refused.value.field == "scope"
    assert not PersonalToken.objects.exists()


@pytest.mark.django_db
def test_a_token_asking_for_a_token_gives_no_more_than_it_has(operator: User) -> None:
    with pytest.raises(TokenRefused) as refused:
        PersonalToken.issue(operator, "ci", "operator", limit="viewer")
    assert refused.value.field == "scope"
    assert PersonalToken.issue(operator, "ci", "viewer", limit="viewer")[0].scope == "viewer"


@pytest.mark.django_db
def test_a_demoted_owners_token_shrinks_at_once(operator: User) -> None:
    _, raw = PersonalToken.issue(operator, "ci", "operator")
    set_role(operator, "viewer")
    assert PersonalToken.objects.usable(raw).effective_role() == "viewer"
    operator.groups.clear()
    operator.save()
    assert PersonalToken.objects.usable(raw).effective_role() is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("name", {"name": "  "}),
        ("name", {"name": "x" * 101}),
        ("scope", {"scope": "root"}),
        ("expires_in_days", {"days": 0}),
        ("expires_in_days", {"days": 366}),
    ],
)
def test_bad_input_names_the_field(operator: User, field: str, kwargs: dict[str, Any]) -> None:
    arguments = {"name": "ci", "scope": "viewer", "days": 30, **kwargs}
    with pytest.raises(TokenRefused) as refused:
        PersonalToken.issue(operator, **arguments)
    assert refused.value.field == field


@pytest.mark.django_db
def test_a_token_expires(operator: User) -> None:
    token, raw = PersonalToken.issue(operator, "ci", "viewer", days=1)
    with time_machine.travel(token.expires_at - timedelta(seconds=1)):
        PersonalToken.objects.usable(raw)
    with time_machine.travel(token.expires_at), pytest.raises(TokenUnusable, match="expired"):
        PersonalToken.objects.usable(raw)


@pytest.mark.django_db
def test_a_revoked_token_is_unusable(operator: User) -> None:
    token, raw = PersonalToken.issue(operator, "ci", "viewer")
    assert token.revoke() is True
    assert token.revoke() is False
    with pytest.raises(TokenUnusable, match="revoked"):
        PersonalToken.objects.usable(raw)


@pytest.mark.django_db
def test_a_disabled_owners_token_is_unusable(operator: User) -> None:
    _, raw = PersonalToken.issue(operator, "ci", "viewer")
    operator.is_active = False
    operator.save()
    with pytest.raises(TokenUnusable):
        PersonalToken.objects.usable(raw)


@pytest.mark.django_db
def test_last_use_is_written_at_most_once_a_minute(operator: User) -> None:
    token, raw = PersonalToken.issue(operator, "ci", "viewer")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        PersonalToken.objects.usable(raw)
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        PersonalToken.objects.usable(raw)
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        PersonalToken.objects.usable(raw)
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)


@pytest.mark.django_db
def test_an_owner_has_a_limit_of_active_tokens(operator: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("accounts.models.MAX_ACTIVE_PER_USER", 2)
    PersonalToken.issue(operator, "a", "viewer")
    revoked, _ = PersonalToken.issue(operator, "b", "viewer")
    revoked.revoke()
    PersonalToken.issue(operator, "c", "viewer")
    with pytest.raises(TokenRefused):
        PersonalToken.issue(operator, "d", "viewer")
