"""Read access to the API: a dashboard session, a read API key, or a JWT."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from accounts.roles import ADMIN, OPERATOR, VIEWER, check_role, has_role
from hosts.identity import IdentityRefused, require_key
from hosts.models import ApiKey, ApiKeyScope, TokenVersion

log = logging.getLogger(__name__)
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "statusdash-api"


class LoginThrottle:
    """Failed password checks, counted per username and address, and per address alone.

    Every way to check a password uses it (the log-in form, the admin's, POST /api/auth/token):
    each check costs a password hash, so an open one is a way to exhaust the CPU. Counted in
    the cache (Redis when configured, so all web processes share the counts). The address is
    the real client's (originating_address), never a trusted proxy's, so one client cannot
    lock everyone behind nginx out. Per username and address: an attacker cannot lock a real
    user out from elsewhere, and one address cannot try many passwords for one account. Per
    address alone, with a higher limit: one address cannot spray many usernames.
    """

    def __init__(self, username: str, address: str) -> None:
        pair = hashlib.sha256(f"{username.strip().lower()}\0{address}".encode()).hexdigest()
        alone = hashlib.sha256(address.encode()).hexdigest()
        self.key = f"login-failures:{pair}"
        self.limits = {
            self.key: settings.LOGIN_MAX_FAILURES,
            f"login-failures-address:{alone}": settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
        }

    def is_locked(self) -> bool:
        counts = cache.get_many(list(self.limits))
        return any(counts.get(key, 0) >= limit for key, limit in self.limits.items())

    def record_failure(self) -> None:
        for key in self.limits:
            # add() starts the window only at the first failure; incr() keeps its expiry,
            # so the lockout ends LOGIN_LOCKOUT_SECONDS after the first failed attempt.
            if not cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add() and incr()
                    cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)

    def clear(self) -> None:
        """A success forgives this username's failures from this address (not the address's total)."""
        cache.delete(self.key)


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
    }
    return jwt.encode(claims, settings.STATUS_JWT_SECRET, algorithm=JWT_ALGORITHM), lifetime


def user_from_token(token: str) -> AbstractBaseUser | None:
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
    return get_user_model().objects.filter(pk=int(subject), is_active=True).first()


def end_tokens_at_logout(sender: Any, user: AbstractBaseUser | None, **kwargs: Any) -> None:
    if user is not None:
        TokenVersion.bump(user.pk)


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


class ReaderBearer(HttpBearer):
    """`Authorization: Bearer <jwt or read key>`."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if token.startswith("sd_"):
            return reader_from_key(token)
        return user_from_token(token)


class ReaderKeyHeader(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return reader_from_key(key) if key else None


class DashboardSession(SessionAuth):
    """A logged-in dashboard user (CSRF is checked on unsafe methods)."""


READ_AUTH = [DashboardSession(), ReaderBearer(), ReaderKeyHeader()]


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
            raise HttpError(403, f"only an {self.role} may do this" if self.role != VIEWER else "no role")
        return user


class RoleBearer(HttpBearer):
    """`Authorization: Bearer <jwt>` of a user with at least `role`. A read key is refused: it only reads."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = check_role(role)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if token.startswith("sd_"):
            if reader_from_key(token) is not None:
                raise HttpError(403, f"a read API key cannot change anything; use an {self.role}'s token")
            return None
        user = user_from_token(token)
        if user is not None and not has_role(user, self.role):
            raise HttpError(403, f"only an {self.role} may do this")
        return user


OPERATOR_AUTH = [RoleSession(OPERATOR), RoleBearer(OPERATOR)]
ADMIN_AUTH = [RoleSession(ADMIN), RoleBearer(ADMIN)]


def caller(request: HttpRequest) -> Any:
    """Who django-ninja authenticated for this request: a user, an ApiKey, or None."""
    return getattr(request, "auth", None)
