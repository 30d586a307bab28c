"""People who use the dashboard: add one with a role, change the role, disable; what `manage.py users` runs.

A new user gets no password typed on a command line (it would sit in the shell's history):
`add` returns a one-time link to the hub's set-password page, made with Django's
password-reset tokens. The link stops working once the password is set (the token covers
the password hash) or after PASSWORD_RESET_TIMEOUT.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.roles import ADMIN, check_role, role_of, set_role
from accounts.signals import user_disabled


class UserRefused(ValueError):
    """A change that cannot be made, with the reason to show."""


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str | None
    active: bool
    last_login: datetime | None


def find(name: str) -> Any:
    user = get_user_model().objects.filter(username=name).first()
    if user is None:
        raise UserRefused(f"no user named {name!r} (see `manage.py users list`)")
    return user


def set_password_link(user: Any) -> str:
    """The hub's set-password page for `user`, valid once."""
    path = reverse(
        "set-password",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return settings.PUBLIC_URL + path


@transaction.atomic
def add(name: str, role: str, email: str = "", generate_password: bool = False) -> tuple[Any, str]:
    """Create a user with `role`. Returns the user and either a set-password link or, with
    `generate_password`, a generated password (shown once: only its hash is stored)."""
    check_role(role)
    try:
        UnicodeUsernameValidator()(name)
    except ValidationError:
        raise UserRefused(f"{name!r} is not a user name: letters, digits and @ . + - _ only") from None
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise UserRefused(f"{email!r} is not an email address") from None
    User = get_user_model()
    # The unique index decides in the end; this is for a clear message in the common case.
    if User.objects.filter(username__iexact=name).exists():
        raise UserRefused(f"a user named {name!r} exists already (change its role with `users role`)")
    password = secrets.token_urlsafe(15) if generate_password else None
    user = User.objects.create_user(name, email=email, password=password)
    set_role(user, role)
    return user, password if password is not None else set_password_link(user)


def change_role(name: str, role: str) -> Any:
    check_role(role)
    user = find(name)
    if role != ADMIN:
        _keep_an_admin(user, f"{name} is the last active admin: make another admin first")
    set_role(user, role)
    return user


@transaction.atomic
def disable(name: str) -> Any:
    """Disable a user: their sessions, sockets and API tokens end now; their history stays."""
    user = find(name)
    _keep_an_admin(user, f"{name} is the last active admin: make another admin first")
    user.is_active = False
    user.save(update_fields=["is_active"])  # save(), not update(): the dashboard closes their sockets
    end_sessions(user.pk)
    transaction.on_commit(lambda: user_disabled.send(sender=type(user), user_id=user.pk))
    return user


def enable(name: str) -> Any:
    user = find(name)
    user.is_active = True
    user.save(update_fields=["is_active"])
    return user


def end_sessions(user_id: int) -> int:
    """Delete the user's stored sessions (an inactive user's session is refused anyway; this
    also keeps it from coming back if the user is enabled again). Sessions are few in a small
    team: each is decoded to find its user."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()):
        if session.get_decoded().get("_auth_user_id") == str(user_id):
            session.delete()
            ended += 1
    return ended


def listing() -> list[UserRow]:
    users = get_user_model().objects.order_by("username").prefetch_related("groups")
    return [UserRow(u.get_username(), role_of(u), u.is_active, u.last_login) for u in users]


def _keep_an_admin(user: Any, message: str) -> None:
    """Refuse to take the last active admin away: nobody could manage users after."""
    if role_of(user) != ADMIN:
        return
    others = get_user_model().objects.filter(is_active=True).exclude(pk=user.pk)
    if not any(role_of(other) == ADMIN for other in others):
        raise UserRefused(message)
