"""Dashboard log-in (the admin's too): the password, then for an enrolled user the second factor.

Both steps are throttled like every way to check a password (accounts/login_throttle.py): a
wrong code counts as a failed log-in for the username and address, and only a complete
log-in forgives the failures, so a stolen password does not reset the count of code guesses.
The password step logs no one in when a code is owed: it leaves the user's id in the session
for LOGIN_CODE_STEP_SECONDS, and the code step logs them in.
"""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login

from accounts import two_factor
from accounts.login_throttle import LoginThrottle
from hosts.identity import originating_address

PENDING_KEY = "login-pending"


def throttled_message() -> str:
    return f"Too many failed log-ins. Try again in {max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)} minutes."


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed log-ins. Try again in %(minutes)d minutes.",
    }

    def clean(self) -> dict[str, Any]:
        self.throttle = LoginThrottle(
            self.data.get("username", ""), originating_address(self.request) if self.request else ""
        )
        if self.throttle.is_locked():
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)},
            )
        try:
            return super().clean()
        except ValidationError:
            self.throttle.record_failure()
            raise


class ThrottledLoginView(LoginView):
    template_name = "login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.PASSWORD_LOGIN:
            return render(request, "login_password_off.html", status=403)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["password_login"] = settings.PASSWORD_LOGIN
        context["sso"] = settings.OIDC_ENABLED
        return context

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if two_factor.is_enrolled(user):
            self.request.session[PENDING_KEY] = {
                "user": user.pk,
                "backend": user.backend,  # type: ignore[attr-defined]
                "since": time.time(),
                "next": self.get_success_url(),
            }
            return HttpResponseRedirect(reverse("login-code"))
        form.throttle.clear()  # type: ignore[attr-defined]
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", "throttled"):
            response.status_code = 429
        return response


class CodeForm(forms.Form):
    code = forms.CharField(max_length=64, strip=True)


def pending_login(request: HttpRequest) -> dict[str, Any] | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("since", 0) > settings.LOGIN_CODE_STEP_SECONDS:
        return None
    return pending


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a recovery code."""
    pending = pending_login(request)
    user = None
    if pending is not None:
        user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    if pending is None or user is None:
        request.session.pop(PENDING_KEY, None)
        return HttpResponseRedirect(settings.LOGIN_URL)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        throttle = LoginThrottle(user.get_username(), originating_address(request))
        device = None
        if throttle.is_locked():
            form.add_error(None, throttled_message())
            status = 429
        else:
            device = two_factor.verify(user, form.cleaned_data["code"])
            if device is None:
                throttle.record_failure()
                form.add_error("code", "That code is wrong or was used already.")
        if device is not None:
            throttle.clear()
            del request.session[PENDING_KEY]
            auth_login(request, user, backend=pending["backend"])
            otp_login(request, device)
            return HttpResponseRedirect(pending["next"])
    return render(request, "login_code.html", {"form": form}, status=status)


@require_GET
def sso_refused(request: HttpRequest) -> HttpResponse:
    """Where single sign-on ends when the provider's answer gives the user no role here."""
    return render(request, "login_sso_refused.html", {"role_claim": settings.OIDC_ROLE_CLAIM}, status=403)
