"""What a session says about how its user logged in, and whether it may be used yet."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from accounts import two_factor

SSO_BACKEND = "accounts.oidc.RoleClaimBackend"


def signed_in_by_sso(request: HttpRequest) -> bool:
    return bool(request.session.get(BACKEND_SESSION_KEY) == SSO_BACKEND)


def owes_second_factor(user: Any, session: SessionBase) -> bool:
    """Whether a logged-in session may not be used yet: its user must enroll first, or has
    enrolled and this session never gave a code (it began before, in another browser).
    A single sign-on session owes nothing here: the provider asks for its own second factor."""
    if session.get(BACKEND_SESSION_KEY) == SSO_BACKEND:
        return False
    if two_factor.must_enroll(user):
        return True
    if not two_factor.is_enrolled(user):
        return False
    device = Device.from_persistent_id(session.get(DEVICE_ID_SESSION_KEY) or "")
    return device is None or device.user_id != user.pk
