"""A test's authenticator app: codes computed from an enrolled device's secret, as a phone would."""

from __future__ import annotations

from typing import Any

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def enroll(user: Any) -> tuple[TOTPDevice, list[str]]:
    """Enroll the user as the settings page does; returns the authenticator and the recovery codes."""
    device = two_factor.start_enrollment(user)
    codes = two_factor.confirm_enrollment(device, code_for(device))
    assert codes is not None
    device.refresh_from_db()
    return device, codes
