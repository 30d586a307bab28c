"""The callers every API route's auth matrix tries: none, a read key, a viewer, an operator, an admin.

Roles are sent as bearer tokens (JWTs of users in each role), as scripts send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from accounts.roles import ADMIN, OPERATOR, VIEWER, set_role
from hosts.auth import issue_token
from hosts.models import ApiKey, ApiKeyScope

CALLERS = ("none", "read_key", "viewer", "operator", "admin")


@dataclass
class Actors:
    headers: dict[str, dict[str, str]]
    users: dict[str, Any]

    def call(self, client: Client, caller: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
        kwargs: dict[str, Any] = {**self.headers[caller], **headers}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return getattr(client, method)(path, **kwargs)


def make_actors() -> Actors:
    headers: dict[str, dict[str, str]] = {"none": {}}
    _, raw = ApiKey.issue(ApiKeyScope.READ, label="matrix")
    headers["read_key"] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    users = {}
    for role in (VIEWER, OPERATOR, ADMIN):
        user = User.objects.create_user(f"{role}-user")  # no password: they call with tokens
        set_role(user, role)
        users[role] = user
        headers[role] = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user)[0]}"}
    return Actors(headers, users)


def allowed_statuses(callers_allowed: tuple[str, ...]) -> dict[str, bool]:
    return {caller: caller in callers_allowed for caller in CALLERS}


def expected_refusal(caller: str) -> int:
    """What a caller without the right gets: 401 with no credentials, 403 otherwise."""
    return 401 if caller == "none" else 403


READERS = ("read_key", "viewer", "operator", "admin")
OPERATORS = ("operator", "admin")
ADMINS = ("admin",)
