"""Log-in with a second factor: the code step, recovery codes, throttling, REQUIRE_2FA, the admin's log-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone

from accounts.roles import ADMIN, VIEWER, set_role
from accounts.tests.totp import code_for, enroll
from statusdash.tests.support import user_with_role

pytestmark = pytest.mark.django_db

PASSWORD = "pw-operator-123"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    # Each TOTP code is accepted once: tests move the clock to the next 30 s step instead of waiting.
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def enrolled(clock: time_machine.Coordinates) -> tuple[User, list[str]]:
    user = user_with_role("ops", VIEWER, password=PASSWORD)
    device, codes = enroll(user)
    clock.shift(timedelta(seconds=30))
    user.device = device  # type: ignore[attr-defined]
    return user, codes


def password_step(client: Client, path: str = "/login/", next_url: str = "/", address: str = "10.0.0.1") -> int:
    response = client.post(
        f"{path}?next={next_url}", {"username": "ops", "password": PASSWORD, "next": next_url}, REMOTE_ADDR=address
    )
    return response.status_code


def code_step(client: Client, code: str, address: str = "10.0.0.1"):
    return client.post("/login/code/", {"code": code}, REMOTE_ADDR=address)


def test_the_password_alone_logs_no_one_in(client: Client, enrolled: tuple[User, list[str]]) -> None:
    response = client.post("/login/", {"username": "ops", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


def test_password_then_code_logs_in_and_goes_to_next(client: Client, enrolled: tuple[User, list[str]]) -> None:
    user, _ = enrolled
    password_step(client, next_url="/alerts/")
    response = code_step(client, code_for(user.device))  # type: ignore[attr-defined]
    assert response.status_code == 302 and response["Location"] == "/alerts/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/").status_code == 200


def test_a_wrong_code_is_refused(client: Client, enrolled: tuple[User, list[str]]) -> None:
    user, _ = enrolled
    password_step(client)
    right = code_for(user.device)  # type: ignore[attr-defined]
    response = code_step(client, "000000" if right != "000000" else "111111")
    assert response.status_code == 200
    assert "That code is wrong or was used already." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_recovery_code_logs_in_once(client: Client, enrolled: tuple[User, list[str]]) -> None:
    _, codes = enrolled
    password_step(client)
    assert code_step(client, codes[3]).status_code == 302
    client.post("/logout/")
    password_step(client)
    assert code_step(client, codes[3]).status_code == 200
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=600)
def test_wrong_codes_count_as_failed_log_ins_until_even_the_right_code_is_refused(
    client: Client, enrolled: tuple[User, list[str]], clock: time_machine.Coordinates
) -> None:
    user, _ = enrolled
    password_step(client)
    for _ in range(3):
        code_step(client, "999999" if code_for(user.device) != "999999" else "888888")  # type: ignore[attr-defined]
        clock.shift(timedelta(seconds=2))
    response = code_step(client, code_for(user.device))  # type: ignore[attr-defined]
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # ...and the password step too: the count is per user and address, whichever step failed.
    assert password_step(client) == 429


@override_settings(LOGIN_MAX_FAILURES=3)
def test_a_right_password_does_not_forgive_wrong_codes(client: Client, enrolled: tuple[User, list[str]]) -> None:
    for _ in range(3):
        password_step(client)
        code_step(client, "not-a-code")
    assert password_step(client) == 429


def test_the_code_step_expires(
    client: Client, enrolled: tuple[User, list[str]], clock: time_machine.Coordinates
) -> None:
    user, _ = enrolled
    password_step(client)
    clock.shift(timedelta(seconds=301))
    response = code_step(client, code_for(user.device))  # type: ignore[attr-defined]
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_the_code_step_without_a_password_step_goes_back_to_log_in(client: Client) -> None:
    response = code_step(client, "123456")
    assert response.status_code == 302 and response["Location"] == "/login/"


def test_the_admins_log_in_asks_for_the_code_too(client: Client, enrolled: tuple[User, list[str]]) -> None:
    user, _ = enrolled
    set_role(user, ADMIN)
    assert password_step(client, path="/admin/login/", next_url="/admin/") == 302
    assert client.get("/admin/").status_code == 302  # not in: the code is still owed
    assert code_step(client, code_for(user.device))["Location"] == "/admin/"  # type: ignore[attr-defined]
    assert client.get("/admin/").status_code == 200


def test_a_session_from_before_enrolling_must_log_in_again(client: Client) -> None:
    user = user_with_role("ops", VIEWER, password=PASSWORD)
    client.force_login(user)
    enroll(user)  # from another browser
    response = client.get("/alerts/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session


@override_settings(REQUIRE_2FA="all")
def test_a_user_who_must_enroll_is_sent_to_enrollment_before_anything_else(client: Client) -> None:
    user_with_role("ops", VIEWER, password=PASSWORD)
    assert password_step(client) == 302
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/account/two-factor/"
    api = client.get("/api/hosts")
    assert api.status_code == 403 and "two-factor" in api.json()["detail"]
    assert client.get("/account/two-factor/").status_code == 200


@override_settings(REQUIRE_2FA="none")
def test_with_none_required_an_unenrolled_user_goes_anywhere(client: Client) -> None:
    user_with_role("ops", VIEWER, password=PASSWORD)
    password_step(client)
    assert client.get("/").status_code == 200
