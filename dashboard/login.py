"""Dashboard log-in with throttling: repeated failures for one username from one address lock it out for a while.

Counted in the cache (Redis when configured, so all web processes share the count).
Keyed by username and address together, so an attacker cannot lock a real user out
from elsewhere, and one address cannot try many passwords for one account.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponse


class LoginThrottle:
    def __init__(self, username: str, address: str) -> None:
        digest = hashlib.sha256(f"{username.strip().lower()}\0{address}".encode()).hexdigest()
        self.key = f"login-failures:{digest}"

    def is_locked(self) -> bool:
        return (cache.get(self.key) or 0) >= settings.LOGIN_MAX_FAILURES

    def record_failure(self) -> None:
        # add() starts the window only at the first failure; incr() keeps its expiry,
        # so the lockout ends LOGIN_LOCKOUT_SECONDS after the first failed attempt.
        if not cache.add(self.key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
            try:
                cache.incr(self.key)
            except ValueError:  # expired between add() and incr()
                cache.add(self.key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)

    def clear(self) -> None:
        cache.delete(self.key)


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed log-ins. Try again in %(minutes)d minutes.",
    }

    def clean(self) -> dict[str, Any]:
        throttle = LoginThrottle(
            self.data.get("username", ""), self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        )
        if throttle.is_locked():
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure()
            raise
        throttle.clear()
        return cleaned


class ThrottledLoginView(LoginView):
    template_name = "login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", "throttled"):
            response.status_code = 429
        return response
