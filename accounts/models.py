"""Personal API tokens (a person's own bearer tokens, acting with their role or less), and single sign-on identities."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.roles import ADMIN, OPERATOR, ROLES, VIEWER, role_of

PREFIX = "sdp_"  # apart from agent and read keys (sd_) and enrollment tokens (sde_)
MAX_DAYS = 365
DEFAULT_DAYS = 90
NAME_MAX_LENGTH = 100
MAX_ACTIVE_PER_USER = 50


class TokenScope(models.TextChoices):
    VIEWER = VIEWER, "viewer (read-only)"
    OPERATOR = OPERATOR, "operator"
    ADMIN = ADMIN, "admin"


class TokenRefused(Exception):
    """A token that cannot be made: `field` names the input at fault, for a 4xx that says so."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class TokenUnusable(Exception):
    """A presented token that does not authenticate: unknown, revoked or expired (a 401)."""


def lesser(*roles: str | None) -> str | None:
    """The role with the fewest rights; None (no rights) if any is None."""
    if any(role is None for role in roles):
        return None
    return min((role for role in roles if role is not None), key=ROLES.index)


def hash_token(raw: str) -> str:
    # 256 random bits: a plain SHA-256 is enough, there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


class PersonalTokenQuerySet(models.QuerySet["PersonalToken"]):
    def active(self) -> PersonalTokenQuerySet:
        return self.filter(revoked_at=None, expires_at__gt=timezone.now())

    def usable(self, raw: str) -> PersonalToken:
        """The token for a presented secret, if it may be used now; else TokenUnusable with the reason."""
        token = None
        if raw.startswith(PREFIX) and len(raw) <= 200:
            token = self.select_related("user").filter(hashed=hash_token(raw)).first()
        if token is None or not token.user.is_active:
            raise TokenUnusable("unknown token")
        if token.revoked_at is not None:
            raise TokenUnusable(f"this token was revoked at {token.revoked_at:%Y-%m-%d %H:%M} UTC")
        if timezone.now() >= token.expires_at:
            raise TokenUnusable(f"this token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC")
        token.touch()
        return token


class PersonalToken(models.Model):
    """A bearer token a person made for a script or a tool.

    It acts with the lesser of its scope and its owner's role *now*: a demoted owner's
    tokens shrink with them, a disabled owner's stop. The secret is shown once and only its
    hash is kept.
    """

    PREFIX_LENGTH = len(PREFIX) + 8  # enough to tell tokens apart in a list

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens")
    name = models.CharField(max_length=NAME_MAX_LENGTH, help_text="What it is for, e.g. 'grafana'.")
    scope = models.CharField(max_length=10, choices=TokenScope.choices)
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    hashed = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = PersonalTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "personal API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, user: Any, name: str, scope: str, days: int = DEFAULT_DAYS, *, limit: str | None = None
    ) -> tuple[PersonalToken, str]:
        """A new token for `user` and its secret, which is not stored and shown only now.

        `scope` may not exceed the user's role, nor `limit` (the role of the token that asks
        for this one, when a token asks). TokenRefused names the field otherwise.
        """
        name = (name or "").strip()
        if not name:
            raise TokenRefused("name", "a token needs a name (what it is for)")
        if len(name) > NAME_MAX_LENGTH:
            raise TokenRefused("name", f"at most {NAME_MAX_LENGTH} characters")
        if scope not in ROLES:
            raise TokenRefused("scope", f"one of {', '.join(ROLES)}")
        allowed = lesser(role_of(user), limit) if limit is not None else role_of(user)
        if allowed is None or ROLES.index(scope) > ROLES.index(allowed):
            raise TokenRefused("scope", f"at most {allowed}" if allowed else "you have no role to give a token")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise TokenRefused("expires_in_days", f"a whole number of days from 1 to {MAX_DAYS}")
        if cls.objects.filter(user=user).active().count() >= MAX_ACTIVE_PER_USER:
            raise TokenRefused("name", f"you have {MAX_ACTIVE_PER_USER} active tokens; revoke one first")
        raw = PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            scope=scope,
            prefix=raw[: cls.PREFIX_LENGTH],
            hashed=hash_token(raw),
            expires_at=timezone.now() + timedelta(days=days),
        )
        return token, raw

    def effective_role(self) -> str | None:
        """What the token may do now: the lesser of its scope and its owner's current role."""
        return lesser(self.scope, role_of(self.user))

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    def revoke(self) -> bool:
        """False when it was revoked already."""
        if self.revoked_at is not None:
            return False
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
        return True

    def touch(self) -> None:
        """Record use at most once a minute, so a busy script does not write a row per request."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > timedelta(minutes=1):
            # Conditional: two requests at once write once; no save(), so no signal, no audit row.
            PersonalToken.objects.filter(pk=self.pk, last_used_at=self.last_used_at).update(last_used_at=now)
            self.last_used_at = now


class SsoIdentity(models.Model):
    """A user who signs in through OpenID Connect, known by the provider's issuer and subject.

    Users are matched on (issuer, subject), never on a username or an e-mail address the
    provider lets people choose: a provider account named "admin" must not become the hub's
    local admin.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)
    last_login = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_subject")]
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
