"""The two-factor settings page: enroll with the QR code, see the recovery codes once, re-enroll, turn off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.roles import ADMIN, VIEWER, set_role
from accounts.tests.totp import code_for, enroll
from statusdash.tests.support import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def user(client: Client) -> User:
    user = user_with_role("ops", VIEWER, password="a-long-password")
    client.force_login(user)
    return user


def post(client: Client, action: str, code: str = ""):
    return client.post("/account/two-factor/", {"action": action, "code": code})


def test_enrolling_shows_a_qr_code_then_the_recovery_codes_once(client: Client, user: User) -> None:
    page = post(client, "start").content.decode()
    assert "<svg" in page and "QR code for your authenticator app" in page
    device = two_factor.pending_authenticator(user)
    assert device is not None
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page)
    assert secret and secret.group(1) == two_factor.secret_for_typing(device)
    confirmed = post(client, "confirm", code_for(device))
    assert confirmed.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{10})</li>", confirmed.content.decode())
    assert len(codes) == 10
    assert two_factor.is_enrolled(user)
    later = client.get("/account/two-factor/").content.decode()
    assert not any(code in later for code in codes)
    assert "10 recovery codes left" in later


def test_a_wrong_confirmation_code_enrolls_nothing(client: Client, user: User) -> None:
    post(client, "start")
    device = two_factor.pending_authenticator(user)
    assert device is not None
    wrong = "000000" if code_for(device) != "000000" else "111111"
    response = post(client, "confirm", wrong)
    assert response.status_code == 400 and "That code is wrong" in response.content.decode()
    assert not two_factor.is_enrolled(user)


def test_enrolling_keeps_the_session_logged_in(client: Client, user: User) -> None:
    post(client, "start")
    device = two_factor.pending_authenticator(user)
    assert device is not None
    post(client, "confirm", code_for(device))
    assert client.get("/").status_code == 200  # the gate sees a verified session, not a stale one


def test_turning_off_needs_a_valid_code(client: Client, user: User, clock: time_machine.Coordinates) -> None:
    device, _ = enroll(user)
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    clock.shift(timedelta(seconds=30))
    assert post(client, "disable", "").status_code == 400
    assert two_factor.is_enrolled(user)
    clock.shift(timedelta(seconds=2))
    assert post(client, "disable", code_for(device)).status_code == 200
    assert not two_factor.is_enrolled(user)


@override_settings(REQUIRE_2FA="all")
def test_turning_off_is_refused_where_it_is_required(
    client: Client, user: User, clock: time_machine.Coordinates
) -> None:
    device, codes = enroll(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    response = post(client, "disable", codes[0])
    assert response.status_code == 400 and "required" in response.content.decode()
    assert two_factor.is_enrolled(user)


def test_re_enrolling_needs_a_valid_code(client: Client, user: User, clock: time_machine.Coordinates) -> None:
    device, codes = enroll(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    assert post(client, "start", "").status_code == 400
    assert two_factor.pending_authenticator(user) is None
    assert post(client, "start", codes[0]).status_code == 200
    assert two_factor.pending_authenticator(user) is not None


def test_an_unknown_action_is_a_400(client: Client, user: User) -> None:
    assert post(client, "explode").status_code == 400


def test_logged_out_visitors_are_sent_to_log_in(client: Client) -> None:
    assert client.get("/account/two-factor/")["Location"].startswith("/login/")


def test_an_admin_resets_another_users_second_factor_from_the_admin(client: Client, user: User) -> None:
    enroll(user)
    # The first admin (STATUS_ADMIN_PASSWORD's) is a superuser; the admin role's model
    # permissions come with the roles' enforcement.
    boss = User.objects.create_superuser("boss", password="a-long-password")
    client.force_login(boss)
    response = client.post(
        "/admin/auth/user/", {"action": "reset_two_factor", "_selected_action": [user.pk]}, follow=True
    )
    assert response.status_code == 200
    assert not two_factor.is_enrolled(user)
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_the_admin_does_not_show_authenticator_secrets(client: Client, user: User) -> None:
    boss = User.objects.create_user("boss", password="a-long-password")
    set_role(boss, ADMIN)
    client.force_login(boss)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
