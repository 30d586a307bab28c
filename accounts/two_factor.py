"""Two-factor log-in: a TOTP authenticator, ten one-time recovery codes, and who must have them.

The devices are django-otp's: a TOTPDevice (the authenticator app; unconfirmed until its
first code is entered, so a QR code scanned half-way changes nothing) and a StaticDevice
holding the recovery codes, each of which works once. A person has at most one of each.

REQUIRE_2FA says who must enroll: "all", "none", or "admins" (the default): every admin,
once any admin has enrolled. A fresh hub is thus not locked before its first admin has set
up an authenticator, and from then on no admin can skip it.
"""

from __future__ import annotations

import secrets
from base64 import b32encode
from typing import Any

import segno
from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user, match_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import ADMIN, has_role

REQUIRE_ALL = "all"
REQUIRE_ADMINS = "admins"
REQUIRE_NONE = "none"
RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


def is_enrolled(user: Any) -> bool:
    """Whether the user has a confirmed authenticator (recovery codes alone do not count)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def any_admin_enrolled() -> bool:
    enrolled = TOTPDevice.objects.filter(confirmed=True, user__is_active=True).select_related("user")
    return any(has_role(device.user, ADMIN) for device in enrolled)


def required_for(user: Any) -> bool:
    """Whether REQUIRE_2FA asks this user for a second factor."""
    policy = settings.REQUIRE_2FA
    if policy == REQUIRE_ALL:
        return True
    if policy == REQUIRE_ADMINS:
        return has_role(user, ADMIN) and any_admin_enrolled()
    return False


def must_enroll(user: Any) -> bool:
    return required_for(user) and not is_enrolled(user)


def normalized(code: str) -> str:
    # Authenticator apps show "123 456"; recovery codes are printed in lower case.
    return "".join(code.split()).lower()


def verify(user: Any, code: str) -> Device | None:
    """The device that accepts `code` (a current TOTP code or an unused recovery code, which is
    then used up), or None. django-otp refuses a TOTP code seen before (replay) and slows
    down a device after failures, on top of the log-in throttle."""
    code = normalized(code)
    if not code or len(code) > 32:
        return None
    return match_token(user, code)


def pending_authenticator(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def start_enrollment(user: Any) -> TOTPDevice:
    """A new, unconfirmed authenticator; any earlier unconfirmed one is dropped. A confirmed one
    stays in use until the new one is confirmed (re-enrolling never leaves a gap)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def confirm_enrollment(device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the pending authenticator with its first code. Returns the new recovery codes
    (to be shown once), or None when the code is wrong."""
    if not device.verify_token(normalized(code)):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return new_recovery_codes(device.user)


def new_recovery_codes(user: Any) -> list[str]:
    """Ten fresh recovery codes in place of any earlier ones; only their holder sees them (once)."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
        codes = [recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def recovery_code() -> str:
    # 10 characters of base32 (50 bits): typed by hand, once, and each try is throttled.
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def remove(user: Any) -> None:
    """Forget every second factor of the user (disable, or an admin's reset)."""
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=None):
            device.delete()


def qr_code_svg(device: TOTPDevice) -> str:
    """The authenticator's otpauth:// URL as an inline SVG QR code, drawn here (no outside service)."""
    code = segno.make(otpauth_url(device), error="m")
    return str(
        code.svg_inline(scale=5, border=2, dark="#000", light="#fff", title="QR code for your authenticator app")
    )


def otpauth_url(device: TOTPDevice) -> str:
    return str(device.config_url)


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for an app that cannot scan."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[index : index + 4] for index in range(0, len(text), 4))
