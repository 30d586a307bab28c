"""Model permissions from the user's role: the admin site asks the same roles as the pages.

Django's ModelBackend gives a user the permissions of every group they are in. Here the
groups that count are decided by accounts.roles.role_of: one role group, and a staff user
from before roles (in no role group) counts as an admin, as role_of says everywhere else.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

from accounts.roles import role_of


class RoleBackend(ModelBackend):
    def _get_group_permissions(self, user_obj: Any) -> Any:
        role = role_of(user_obj)
        return Permission.objects.filter(group__name=role) if role else Permission.objects.none()


class RolePermissionsBackend(RoleBackend):
    """The role's permissions, and no password checked: the backend when PASSWORD_LOGIN=false."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        return None
