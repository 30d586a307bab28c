"""Two-factor devices and REQUIRE_2FA: enrollment, codes, recovery codes, who must enroll."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from accounts import two_factor
from accounts.roles import ADMIN, OPERATOR, set_role
from accounts.tests.totp import code_for, enroll

pytestmark = pytest.mark.django_db


def make_user(name: str, role: str | None = None):
    user = get_user_model().objects.create_user(name, password="a-long-password")
    if role:
        set_role(user, role)
    return user


def test_enrollment_is_confirmed_only_by_a_code_from_its_secret() -> None:
    user = make_user("ops")
    device = two_factor.start_enrollment(user)
    assert not two_factor.is_enrolled(user)
    assert two_factor.confirm_enrollment(device, "000000" if code_for(device) != "000000" else "111111") is None
    assert not two_factor.is_enrolled(user)
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):  # past django-otp's 1 s delay after a failure
        codes = two_factor.confirm_enrollment(device, code_for(device))
    assert codes is not None and len(codes) == 10 and len(set(codes)) == 10
    assert two_factor.is_enrolled(user)
    assert two_factor.recovery_codes_left(user) == 10


def test_the_qr_code_is_an_inline_svg_of_the_otpauth_url() -> None:
    device = two_factor.start_enrollment(make_user("ops"))
    svg = two_factor.qr_code_svg(device)
    assert svg.startswith("<svg") and "<title>" in svg
    assert two_factor.otpauth_url(device).startswith("otpauth://totp/")
    assert two_factor.secret_for_typing(device).replace(" ", "") in two_factor.otpauth_url(device)


def test_a_current_code_verifies_and_the_same_code_twice_does_not() -> None:
    user = make_user("ops")
    device, _ = enroll(user)
    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=False):
        code = code_for(device)
        assert two_factor.verify(user, code) is not None
        assert two_factor.verify(user, code) is None  # replayed


def test_a_recovery_code_works_once() -> None:
    user = make_user("ops")
    _, codes = enroll(user)
    assert two_factor.verify(user, codes[0].upper()) is not None  # typed in capitals: still the code
    assert two_factor.recovery_codes_left(user) == 9
    assert two_factor.verify(user, codes[0]) is None


def test_re_enrolling_keeps_the_old_authenticator_until_the_new_one_is_confirmed() -> None:
    user = make_user("ops")
    old, _ = enroll(user)
    new = two_factor.start_enrollment(user)
    assert two_factor.is_enrolled(user)  # the old one still guards the account
    assert two_factor.confirm_enrollment(new, code_for(new)) is not None
    assert not type(old).objects.filter(pk=old.pk).exists()


def test_remove_forgets_every_second_factor() -> None:
    user = make_user("ops")
    enroll(user)
    two_factor.remove(user)
    assert not two_factor.is_enrolled(user)
    assert two_factor.recovery_codes_left(user) == 0


@override_settings(REQUIRE_2FA="admins")
def test_admins_mode_requires_admins_only_once_an_admin_has_enrolled() -> None:
    first, second, operator = make_user("first", ADMIN), make_user("second", ADMIN), make_user("ops", OPERATOR)
    assert not two_factor.must_enroll(second)  # a fresh hub: nobody is locked out
    enroll(first)
    assert two_factor.must_enroll(second)
    assert not two_factor.must_enroll(first)  # enrolled already
    assert not two_factor.must_enroll(operator)


@override_settings(REQUIRE_2FA="admins")
def test_an_enrolled_operator_does_not_make_admins_enroll() -> None:
    admin, operator = make_user("boss", ADMIN), make_user("ops", OPERATOR)
    enroll(operator)
    assert not two_factor.must_enroll(admin)


@override_settings(REQUIRE_2FA="all")
def test_all_mode_requires_everyone() -> None:
    assert two_factor.must_enroll(make_user("ops", OPERATOR))


@override_settings(REQUIRE_2FA="none")
def test_none_mode_requires_no_one() -> None:
    first, second = make_user("first", ADMIN), make_user("second", ADMIN)
    enroll(first)
    assert not two_factor.must_enroll(second)
