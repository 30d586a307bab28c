"""Who may use the API: a dashboard session, a read API key, a JWT, or a personal token; and with which role."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from accounts.models import PREFIX as PERSONAL_TOKEN_PREFIX
from accounts.models import PersonalToken, TokenUnusable, lesser
from accounts.rights import role_needed
from accounts.roles import ADMIN, OPERATOR, ROLES, VIEWER, check_role, has_role, role_of
from hosts.identity import IdentityRefused, require_key
from hosts.models import ApiKey, ApiKeyScope, TokenVersion

log = logging.getLogger(__name__)
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "statusdash-api"


def issue_token(user: AbstractBaseUser) -> tuple[str, int]:
    lifetime = settings.JWT_LIFETIME_SECONDS
    now = timezone.now()
    claims = {
        "sub": str(user.pk),
        "name": user.get_username(),
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(seconds=lifetime),
        "ver": TokenVersion.of(user.pk),
        # What the user could do when it was issued; it acts with the lesser of this and their role then.
        "role": role_of(user),
    }
    return jwt.encode(claims, settings.STATUS_JWT_SECRET, algorithm=JWT_ALGORITHM), lifetime


def user_from_token(token: str) -> AbstractBaseUser | None:
    claims = jwt_claims(token)
    if claims is None:
        return None
    return get_user_model().objects.filter(pk=int(claims["sub"]), is_active=True).first()


def jwt_claims(token: str) -> dict[str, Any] | None:
    """A JWT's claims if it is ours, unexpired and not revoked; None if it is not ours; 401 otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.STATUS_JWT_SECRET,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            # A token without an expiry would be good forever: refuse it, however it was signed.
            options={"require": ["exp", "iat", "sub", "aud", "ver"]},
        )
    except jwt.ExpiredSignatureError:
        raise HttpError(401, "token expired; ask POST /api/auth/token for a new one") from None
    except jwt.InvalidTokenError:
        return None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.isdigit():
        return None
    if claims["ver"] != TokenVersion.of(int(subject)):
        raise HttpError(401, "token revoked (logged out or password changed); ask POST /api/auth/token for a new one")
    return claims


class Bearer:
    """Who a bearer token stands for, and with which role (None: no role)."""

    def __init__(self, user: AbstractBaseUser, role: str | None, personal: PersonalToken | None = None) -> None:
        self.user = user
        self.role = role
        self.personal = personal  # the personal token, or None for a JWT

    def may(self, needed: str) -> bool:
        return self.role is not None and ROLES.index(self.role) >= ROLES.index(needed)


def bearer_from_token(request: HttpRequest, token: str) -> Bearer | None:
    """The one place that decides what a user's bearer token may do: a personal token acts with the
    lesser of its scope and its owner's role now; a JWT with the lesser of its `role` claim and its
    user's role now. None when the token is neither (the next way in may match); 401 when it is
    one but unusable (expired, revoked, its user disabled).

    What was decided is kept on the request (`bearer_of`) for routes that ask what the token
    may do, e.g. to make no token with more than its own rights.
    """
    bearer = None
    if token.startswith(PERSONAL_TOKEN_PREFIX):
        try:
            personal = PersonalToken.objects.usable(token)
        except TokenUnusable as unusable:
            raise HttpError(401, str(unusable)) from None
        bearer = Bearer(personal.user, personal.effective_role(), personal)
    elif (claims := jwt_claims(token)) is not None:
        user = get_user_model().objects.filter(pk=int(claims["sub"]), is_active=True).first()
        if user is not None:
            claimed = claims.get("role")
            bearer = Bearer(user, lesser(claimed if claimed in ROLES else None, role_of(user)))
    request.bearer = bearer  # type: ignore[attr-defined]
    return bearer


def bearer_of(request: HttpRequest) -> Bearer | None:
    """The bearer token this request authenticated with, if it did (None for a session)."""
    return getattr(request, "bearer", None)


def end_tokens_at_logout(sender: Any, user: AbstractBaseUser | None, **kwargs: Any) -> None:
    if user is not None:
        TokenVersion.bump(user.pk)


def end_tokens_of_disabled_user(sender: Any, user_id: int, **kwargs: Any) -> None:
    # user_from_token refuses an inactive user already; ending the version also keeps a
    # token from coming back to life if the user is enabled again.
    TokenVersion.bump(user_id)


def saving_a_new_password(user: AbstractBaseUser) -> bool:
    """In a post_save receiver: whether this save stores a password set with set_password().

    Django keeps the new raw password in `_password` until the save completes, then clears it.
    """
    return getattr(user, "_password", None) is not None


def end_tokens_at_password_change(sender: Any, instance: AbstractBaseUser, **kwargs: Any) -> None:
    if saving_a_new_password(instance) and instance.pk is not None:
        TokenVersion.bump(instance.pk)


def reader_from_key(raw: str) -> ApiKey | None:
    """A read key for the secret; None when no key has it, so the other ways in may still match."""
    try:
        return require_key(raw, ApiKeyScope.READ)
    except IdentityRefused as refused:
        if refused.status == 401:
            return None
        raise HttpError(refused.status, refused.reason) from None


class RoleSession(SessionAuth):
    """A logged-in dashboard user with at least `role`. One with less is told no (403), not asked to log in."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = check_role(role)

    def _get_key(self, request: HttpRequest) -> str | None:
        # CSRF guards a session a browser sends by itself; a request with no session cookie has
        # none to ride, so it is told to authenticate (401 once no other way in matches), not
        # that a forgery failed (403).
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is not None and not has_role(user, self.role):
            raise HttpError(
                403,
                f"only an {self.role} may do this"
                if self.role != VIEWER
                else "no role: an admin gives you one with `manage.py users role`",
            )
        return user


class RoleBearer(HttpBearer):
    """`Authorization: Bearer <jwt>` of a user with at least `role`. A read key is refused: it only reads."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = check_role(role)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if token.startswith("sd_"):
            if reader_from_key(token) is not None:
                raise HttpError(403, "a read API key only reads, and not this; use a session or a personal token")
            return None
        bearer = bearer_from_token(request, token)
        if bearer is None:
            return None
        if not bearer.may(self.role):
            raise HttpError(403, f"only an {self.role} may do this; this token acts as {bearer.role or 'no role'}")
        return bearer.user


class ReaderBearer(HttpBearer):
    """`Authorization: Bearer <…>`: a read key, or a JWT or personal token acting with a role."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if token.startswith("sd_"):
            return reader_from_key(token)
        bearer = bearer_from_token(request, token)
        if bearer is None:
            return None
        if not bearer.may(VIEWER):
            raise HttpError(403, "no role: an admin gives you one with `manage.py users role`")
        return bearer.user


class ReaderKeyHeader(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return reader_from_key(key) if key else None


# The read API: a viewer (or more) logged in or with a JWT, or a read key. A logged-in user with no role is refused.
READ_AUTH = [RoleSession(VIEWER), ReaderBearer(), ReaderKeyHeader()]
OPERATOR_AUTH = [RoleSession(OPERATOR), RoleBearer(OPERATOR)]
ADMIN_AUTH = [RoleSession(ADMIN), RoleBearer(ADMIN)]
_AUTH_BY_ROLE = {VIEWER: READ_AUTH, OPERATOR: OPERATOR_AUTH, ADMIN: ADMIN_AUTH}


def auth_for(action: str) -> list[Any]:
    """The route auth for an action of accounts.rights: the API asks the same table as the pages."""
    return _AUTH_BY_ROLE[role_needed(action)]


def caller(request: HttpRequest) -> Any:
    """Who django-ninja authenticated for this request: a user, an ApiKey, or None."""
    return getattr(request, "auth", None)
