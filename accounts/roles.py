"""The three roles a person may have: viewer, operator, admin, each with the rights of the one before.

A role is a Django group of the same name (created by migration 0001). A superuser is an admin
whatever their groups say; so is a staff user in no role group, which is what every admin was
before roles existed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.signals import role_changed

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)  # in order of rights: each may do all the one before may


class UnknownRole(ValueError):
    pass


def check_role(name: str) -> str:
    if name not in ROLES:
        raise UnknownRole(f"unknown role {name!r}: one of {', '.join(ROLES)}")
    return name


def role_of(user: Any) -> str | None:
    """The user's role, or None for someone with none (anonymous, disabled, or in no role group)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    for role in reversed(ROLES):
        if role in names:
            return role
    return ADMIN if user.is_staff else None


def has_role(user: Any, needed: str) -> bool:
    """True when the user's role is `needed` or one with more rights."""
    role = role_of(user)
    return role is not None and ROLES.index(role) >= ROLES.index(check_role(needed))


@transaction.atomic
def set_role(user: Any, role: str) -> None:
    """Make `role` the user's only role. An operator or admin may use the admin site (is_staff),
    each for what their role's permissions allow (accounts.rights); a viewer may not."""
    check_role(role)
    before = role_of(user)
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
    user.is_staff = role in (OPERATOR, ADMIN)
    user.save(update_fields=["is_staff"])
    if before is not None and before != role:
        # Only a user who had a role can have open sockets (one with none is refused one).
        transaction.on_commit(lambda: role_changed.send(sender=type(user), user_id=user.pk))
