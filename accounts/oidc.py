"""Single sign-on with OpenID Connect, through mozilla-django-oidc (the code flow with PKCE).

Configured by OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET alone: the provider's
endpoints come from its discovery document (OIDC_ISSUER/.well-known/openid-configuration),
read on first use and kept for the life of the process, so a hub starts even while its
provider is down. The role comes from a claim (OIDC_ROLE_CLAIM, mapped by OIDC_ROLE_MAP) at
every sign-in; an account whose claim gives no role is refused, and a known user who lost
their role loses it here too.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.models import SsoIdentity
from accounts.roles import ROLES, set_role

log = logging.getLogger(__name__)

REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


class ProviderUnavailable(Exception):
    """The discovery document could not be read or does not describe this issuer."""


_discovered: dict[str, dict[str, Any]] = {}
_discovery_lock = threading.Lock()


def discovery() -> dict[str, Any]:
    """The provider's discovery document, fetched once per process (a failure is not kept)."""
    issuer = settings.OIDC_ISSUER
    with _discovery_lock:
        if issuer not in _discovered:
            _discovered[issuer] = fetch_discovery(issuer)
        return _discovered[issuer]


def fetch_discovery(issuer: str) -> dict[str, Any]:
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"cannot read {url}: {error}") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url} is not a JSON object")
    # OpenID Connect Discovery 1.0, section 4.3: the issuer in the document must be the one asked.
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderUnavailable(f"{url} names the issuer {document.get('issuer')!r}, not {issuer!r}")
    missing = [name for name in REQUIRED_ENDPOINTS if not isinstance(document.get(name), str)]
    if missing:
        raise ProviderUnavailable(f"{url} lacks {', '.join(missing)}")
    return document


def forget_discovery() -> None:
    with _discovery_lock:
        _discovered.clear()


def role_map() -> dict[str, str]:
    """Claim value -> role; with no OIDC_ROLE_MAP, the values are the role names themselves."""
    return settings.OIDC_ROLE_MAP or {role: role for role in ROLES}


def role_from_claims(claims: dict[str, Any]) -> str | None:
    """The highest role any value of the role claim maps to, or None."""
    values = claims.get(settings.OIDC_ROLE_CLAIM)
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return None
    mapping = role_map()
    roles = {mapping[value] for value in values if isinstance(value, str) and value in mapping}
    return next((role for role in reversed(ROLES) if role in roles), None)


USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


def username_for(claims: dict[str, Any]) -> str:
    """A free username from the provider's preferred name (or e-mail, or subject)."""
    wanted = claims.get("preferred_username") or claims.get("email") or claims["sub"]
    base = USERNAME_UNSAFE.sub("-", str(wanted))[:140] or "sso-user"
    taken = set(get_user_model().objects.filter(username__startswith=base).values_list("username", flat=True))
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    return name


class RoleClaimBackend(OIDCAuthenticationBackend):
    """Users by (issuer, subject), created at their first sign-in, their role set at each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The parent reads every endpoint here; this backend is built for each request's
        # get_user() too, which must not reach out to the provider, so they are read on use.
        self.UserModel = get_user_model()

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return str(discovery()["token_endpoint"])

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:
        return str(discovery()["userinfo_endpoint"])

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return str(discovery()["jwks_uri"])

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(settings.OIDC_CLIENT_ID)

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return str(settings.OIDC_CLIENT_SECRET)

    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_RP_IDP_SIGN_KEY = None

    def verify_token(self, token: str, **kwargs: Any) -> Any:
        payload = super().verify_token(token, **kwargs)
        # The library checks the signature and the nonce; the ID token must also be this
        # issuer's, for this client, and current (OpenID Connect Core 1.0, 3.1.3.7).
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if str(payload.get("iss", "")).rstrip("/") != settings.OIDC_ISSUER:
            raise SuspiciousOperation("ID token from another issuer")
        if settings.OIDC_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token for another client")
        if not isinstance(payload.get("exp"), int) or payload["exp"] < timezone.now().timestamp():
            raise SuspiciousOperation("ID token expired")
        self.id_token_subject = payload.get("sub")
        return payload

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        if not claims.get("sub") or claims.get("sub") != getattr(self, "id_token_subject", None):
            log.warning("sso refused: userinfo subject differs from the ID token's")
            return False
        if role_from_claims(claims) is None:
            log.warning(
                "sso refused: no role",
                extra={"subject": claims.get("sub"), "claim": settings.OIDC_ROLE_CLAIM},
            )
            identity = SsoIdentity.objects.filter(issuer=settings.OIDC_ISSUER, subject=claims["sub"]).first()
            if identity is not None:
                # A role taken away at the provider is taken away here too, at once.
                identity.user.groups.clear()
                self.UserModel.objects.filter(pk=identity.user_id).update(is_staff=False)
            return False
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return self.UserModel.objects.filter(
            sso_identity__issuer=settings.OIDC_ISSUER, sso_identity__subject=claims["sub"]
        )

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]) -> Any:
        user = self.UserModel.objects.create_user(username_for(claims), email=claims.get("email") or "")
        user.set_unusable_password()  # only the provider vouches for this user
        user.save(update_fields=["password"])
        SsoIdentity.objects.create(user=user, issuer=settings.OIDC_ISSUER, subject=claims["sub"])
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        role = role_from_claims(claims)
        assert role is not None  # verify_claims refused the others
        set_role(user, role)
        email = claims.get("email")
        if isinstance(email, str) and email != user.email:
            user.email = email
            user.save(update_fields=["email"])
        SsoIdentity.objects.filter(user=user).update(last_login=timezone.now())
        return user


def require_sso(request: HttpRequest) -> HttpResponse | None:
    """A 404 while SSO is not configured; a 503 page while the provider cannot be reached."""
    if not settings.OIDC_ENABLED:
        raise Http404("single sign-on is not configured")
    # The library builds the redirect URI from the request; the provider knows the hub by
    # PUBLIC_URL, whatever scheme and Host a TLS-terminating proxy passes on.
    request.build_absolute_uri = public_url  # type: ignore[method-assign]
    try:
        discovery()
    except ProviderUnavailable as error:
        log.warning("sso provider unavailable", extra={"error": str(error)})
        return render(request, "login_sso_unavailable.html", {"issuer": settings.OIDC_ISSUER}, status=503)
    return None


def public_url(location: str | None = None) -> str:
    return urljoin(f"{settings.PUBLIC_URL}/", location or "")


class AuthenticationRequestView(OIDCAuthenticationRequestView):
    """GET /oidc/authenticate/: off to the provider's sign-in page."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        View.__init__(self, *args, **kwargs)  # the parent reads the endpoint here; see dispatch

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = require_sso(request)
        if refused is not None:
            return refused
        self.OIDC_OP_AUTH_ENDPOINT = discovery()["authorization_endpoint"]
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        return super().dispatch(request, *args, **kwargs)


class CallbackView(OIDCAuthenticationCallbackView):
    """GET /oidc/callback/: the provider sends the browser back here with a code."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = require_sso(request)
        if refused is not None:
            return refused
        try:
            return super().dispatch(request, *args, **kwargs)
        except (requests.RequestException, SuspiciousOperation, ProviderUnavailable) as error:
            # A forged or replayed callback, or a provider that failed half-way: no one is logged in.
            log.warning("sso callback refused", extra={"error": str(error)})
            return self.login_failure()
