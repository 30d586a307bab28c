"""Dashboard log-in: the form, logging out, and throttling of repeated failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone

from accounts.roles import VIEWER
from statusdash.tests.support import user_with_role

pytestmark = pytest.mark.django_db

PASSWORD = "pw-viewer-123"


@pytest.fixture
def viewer() -> User:
    return user_with_role("viewer", VIEWER, password=PASSWORD)


def log_in(client: Client, password: str, username: str = "viewer", address: str = "10.0.0.1") -> int:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address).status_code


def test_right_password_logs_in_and_goes_to_next(client: Client, viewer: User) -> None:
    response = client.post("/login/?next=/alerts/", {"username": "viewer", "password": PASSWORD, "next": "/alerts/"})
    assert response.status_code == 302
    assert response["Location"] == "/alerts/"


def test_wrong_password_is_refused_with_a_message(client: Client, viewer: User) -> None:
    response = client.post("/login/", {"username": "viewer", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_ends_the_session(client: Client, viewer: User) -> None:
    client.login(username="viewer", password=PASSWORD)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=600)
def test_repeated_failures_lock_out_even_the_right_password(client: Client, viewer: User) -> None:
    for _ in range(3):
        assert log_in(client, "wrong") == 200
    response = client.post("/login/", {"username": "viewer", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    assert "Too many failed log-ins. Try again in 10 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=600)
def test_lockout_ends_after_the_window(client: Client, viewer: User) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(3):
            log_in(client, "wrong")
        assert log_in(client, PASSWORD) == 429
        clock.shift(timedelta(seconds=601))
        assert log_in(client, PASSWORD) == 302


@override_settings(LOGIN_MAX_FAILURES=3)
def test_lockout_is_per_address(client: Client, viewer: User) -> None:
    for _ in range(3):
        log_in(client, "wrong", address="10.0.0.1")
    assert log_in(client, PASSWORD, address="10.0.0.2") == 302


@override_settings(LOGIN_MAX_FAILURES=3)
def test_lockout_is_per_username_in_any_case(client: Client, viewer: User) -> None:
    User.objects.create_user("other", password=PASSWORD)
    for _ in range(3):
        log_in(client, "wrong", username="VIEWER")
    assert log_in(client, PASSWORD, username="viewer") == 429
    assert log_in(client, PASSWORD, username="other") == 302


@override_settings(LOGIN_MAX_FAILURES=3)
def test_success_resets_the_count(client: Client, viewer: User) -> None:
    log_in(client, "wrong")
    log_in(client, "wrong")
    assert log_in(client, PASSWORD) == 302
    client.logout()
    log_in(client, "wrong")
    log_in(client, "wrong")
    assert log_in(client, PASSWORD) == 302


@override_settings(LOGIN_MAX_FAILURES=2)
def test_admin_login_is_throttled_too(client: Client, viewer: User) -> None:
    for _ in range(2):
        client.post("/admin/login/", {"username": "viewer", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    assert log_in(client, PASSWORD) == 429


@override_settings(LOGIN_MAX_FAILURES=3, TRUSTED_PROXIES=["10.9.9.9/32"])
def test_behind_a_trusted_proxy_the_lockout_is_per_real_client(client: Client, viewer: User) -> None:
    # Everyone arrives from nginx (10.9.9.9); X-Forwarded-For says who they are.
    for _ in range(5):
        response = client.post(
            "/login/",
            {"username": "viewer", "password": "wrong"},
            REMOTE_ADDR="10.9.9.9",
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )
    assert response.status_code == 429
    from_the_admins_desk = Client().post(
        "/login/",
        {"username": "viewer", "password": PASSWORD},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )
    assert from_the_admins_desk.status_code == 302


@override_settings(LOGIN_MAX_FAILURES=3)
def test_an_untrusted_peer_cannot_pick_its_address_with_a_header(client: Client, viewer: User) -> None:
    for spoofed in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        client.post(
            "/login/", {"username": "viewer", "password": "wrong"}, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=spoofed
        )
    assert log_in(client, PASSWORD, address="10.0.0.1") == 429


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_ADDRESS=6)
def test_one_address_spraying_usernames_is_locked_out_too(client: Client, viewer: User) -> None:
    for n in range(6):
        assert log_in(client, "wrong", username=f"guess-{n}") == 200
    assert log_in(client, PASSWORD) == 429
    assert log_in(client, PASSWORD, address="10.0.0.2") == 302
