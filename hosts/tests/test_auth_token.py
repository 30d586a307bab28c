"""POST /api/auth/token and reading with the JWT it returns."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest import mock

import jwt
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone

from accounts.roles import VIEWER
from hosts.auth import JWT_ALGORITHM, JWT_AUDIENCE
from statusdash.tests.support import user_with_role


def token_for(client: Client, username: str, password: str) -> Any:
    return client.post(
        "/api/auth/token", json.dumps({"username": username, "password": password}), content_type="application/json"
    )


@pytest.fixture
def reader(db: Any) -> User:
    return user_with_role("reader", VIEWER, password="correct horse battery")


def test_token_reads_the_api(client: Client, reader: User) -> None:
    response = token_for(client, "reader", "correct horse battery")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    listed = client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert listed.status_code == 200


def test_wrong_password_gets_no_token(client: Client, reader: User) -> None:
    response = token_for(client, "reader", "wrong")
    assert response.status_code == 401
    assert response.json() == {"detail": "wrong username or password"}


def test_inactive_user_gets_no_token(client: Client, reader: User) -> None:
    reader.is_active = False
    reader.save()
    assert token_for(client, "reader", "correct horse battery").status_code == 401


def test_missing_field_is_a_422_naming_it(client: Client, db: Any) -> None:
    response = client.post("/api/auth/token", json.dumps({"username": "x"}), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "credentials", "password"]


def test_expired_token_is_refused_with_a_reason(client: Client, reader: User) -> None:
    token = token_for(client, "reader", "correct horse battery").json()["access_token"]
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_tampered_token_is_refused(client: Client, reader: User) -> None:
    token = token_for(client, "reader", "correct horse battery").json()["access_token"]
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[::-1]}"
    assert client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401


def test_token_of_a_deactivated_user_stops_working(client: Client, reader: User) -> None:
    token = token_for(client, "reader", "correct horse battery").json()["access_token"]
    reader.is_active = False
    reader.save()
    assert client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_a_token_without_an_expiry_is_refused_however_well_signed(client: Client, reader: User) -> None:
    claims = {"sub": str(reader.pk), "aud": JWT_AUDIENCE, "iat": timezone.now(), "ver": 0}
    forever = jwt.encode(claims, settings.STATUS_JWT_SECRET, algorithm=JWT_ALGORITHM)
    assert client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {forever}").status_code == 401


def test_logging_out_ends_the_users_tokens(client: Client, reader: User) -> None:
    token = token_for(Client(), "reader", "correct horse battery").json()["access_token"]
    browser = Client()
    assert browser.login(username="reader", password="correct horse battery")
    browser.post("/logout/")
    response = client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_new_password_ends_the_users_tokens(client: Client, reader: User) -> None:
    token = token_for(client, "reader", "correct horse battery").json()["access_token"]
    reader.set_password("a brand new passphrase")
    reader.save()
    assert client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    fresh = token_for(client, "reader", "a brand new passphrase").json()["access_token"]
    assert client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {fresh}").status_code == 200


def test_saving_a_user_without_a_new_password_keeps_the_tokens(client: Client, reader: User) -> None:
    token = token_for(client, "reader", "correct horse battery").json()["access_token"]
    reader.first_name = "Rea"
    reader.save()
    assert client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


@override_settings(LOGIN_MAX_FAILURES=3)
def test_the_token_endpoint_is_throttled_like_the_log_in_form(client: Client, reader: User) -> None:
    for _ in range(3):
        assert token_for(client, "reader", "wrong").status_code == 401
    response = token_for(client, "reader", "correct horse battery")
    assert response.status_code == 429
    assert "too many failed log-ins" in response.json()["detail"]


@override_settings(LOGIN_MAX_FAILURES=3)
def test_a_locked_out_token_request_checks_no_password(client: Client, reader: User) -> None:
    # The point of the throttle: no password hash is computed for a locked-out client.
    for _ in range(3):
        token_for(client, "reader", "wrong")
    with mock.patch("statusdash.api.authenticate", autospec=True) as authenticate:
        assert token_for(client, "reader", "wrong").status_code == 429
    authenticate.assert_not_called()


def token_with_otp(client: Client, otp: str | None, address: str = "127.0.0.1") -> Any:
    body = {"username": "reader", "password": "correct horse battery"}
    if otp is not None:
        body["otp"] = otp
    return client.post("/api/auth/token", json.dumps(body), content_type="application/json", REMOTE_ADDR=address)


@pytest.fixture
def enrolled_reader(reader: User) -> Any:
    from accounts.tests.totp import enroll

    with time_machine.travel(timezone.now(), tick=False) as clock:
        device, codes = enroll(reader)
        clock.shift(timedelta(seconds=30))
        yield device, codes, clock


def test_a_user_with_two_factor_must_send_the_otp_field(client: Client, enrolled_reader: Any) -> None:
    response = token_with_otp(client, None)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("otp:")


def test_a_user_with_two_factor_gets_a_token_with_the_current_code(client: Client, enrolled_reader: Any) -> None:
    from accounts.tests.totp import code_for

    device, _, _ = enrolled_reader
    response = token_with_otp(client, code_for(device))
    assert response.status_code == 200, response.json()
    assert client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}").status_code == 200


def test_a_recovery_code_gets_a_token_once(client: Client, enrolled_reader: Any) -> None:
    _, codes, _ = enrolled_reader
    assert token_with_otp(client, codes[0]).status_code == 200
    assert token_with_otp(client, codes[0]).status_code == 401


@override_settings(LOGIN_MAX_FAILURES=3)
def test_wrong_codes_for_a_token_are_throttled(client: Client, enrolled_reader: Any) -> None:
    from accounts.tests.totp import code_for

    device, _, clock = enrolled_reader
    for _ in range(3):
        response = token_with_otp(client, "not-it")
        assert response.status_code == 401 and response.json()["detail"].startswith("otp:")
        clock.shift(timedelta(seconds=2))
    assert token_with_otp(client, code_for(device)).status_code == 429


def test_an_otp_longer_than_any_code_is_a_422_naming_the_field(client: Client, enrolled_reader: Any) -> None:
    response = token_with_otp(client, "1" * 65)
    assert response.status_code == 422
    assert "otp" in json.dumps(response.json())


@override_settings(REQUIRE_2FA="all")
def test_a_user_who_must_enroll_gets_no_token(client: Client, reader: User) -> None:
    response = token_for(client, "reader", "correct horse battery")
    assert response.status_code == 403 and "two-factor" in response.json()["detail"]


@override_settings(PASSWORD_LOGIN=False)
def test_no_token_for_a_password_when_password_log_in_is_off(client: Client, reader: User) -> None:
    response = token_for(client, "reader", "correct horse battery")
    assert response.status_code == 403 and "PASSWORD_LOGIN" in response.json()["detail"]
