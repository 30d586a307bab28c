"""The second factor, enforced on every request a logged-in session makes.

The log-in views only log a person in after their code, so a session normally owes nothing.
This catches the rest: a session that began before its user enrolled (another browser), and a
user whom REQUIRE_2FA asks to enroll, who may use nothing but the enrollment page until done.
Sessions from single sign-on owe nothing here: the identity provider does its own second factor.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from accounts import two_factor
from accounts.sessions import signed_in_by_sso

# Pages a user who must enroll may still reach: enrolling itself, leaving, and the page's assets.
OPEN_WHILE_ENROLLING = ("/account/two-factor/", "/logout/", "/static/", "/health")


class TwoFactorGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or signed_in_by_sso(request):
            return self.get_response(request)
        if not user.is_verified() and two_factor.is_enrolled(user):  # type: ignore[attr-defined]
            logout(request)
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "log in again with your two-factor code"}, status=401)
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}")
        if two_factor.must_enroll(user) and not request.path.startswith(OPEN_WHILE_ENROLLING):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "set up two-factor log-in first (/account/two-factor/): REQUIRE_2FA asks it of you"},
                    status=403,
                )
            return HttpResponseRedirect(reverse("two-factor"))
        return self.get_response(request)
