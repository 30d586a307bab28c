"""Dashboard log-in, throttled like every way to check a password (hosts/auth.py, LoginThrottle)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from hosts.auth import LoginThrottle
from hosts.identity import originating_address


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed log-ins. Try again in %(minutes)d minutes.",
    }

    def clean(self) -> dict[str, Any]:
        throttle = LoginThrottle(
            self.data.get("username", ""), originating_address(self.request) if self.request else ""
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
