"""What a session says about how its user logged in."""

from __future__ import annotations

from django.contrib.auth import BACKEND_SESSION_KEY
from django.http import HttpRequest

SSO_BACKEND = "accounts.oidc.RoleClaimBackend"


def signed_in_by_sso(request: HttpRequest) -> bool:
    return bool(request.session.get(BACKEND_SESSION_KEY) == SSO_BACKEND)
