"""Two-factor settings: enroll an authenticator (QR code), re-enroll, new recovery codes, disable.

Every change to an enrolled account asks for a current code (or a recovery code): a session
left open on someone's desk is not enough to take the second factor away or replace it.
Wrong codes are slowed down by django-otp's per-device throttling.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts import two_factor
from accounts.sessions import signed_in_by_sso

ACTIONS = ("start", "confirm", "recovery", "disable")


class ActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(action, action) for action in ACTIONS])
    code = forms.CharField(max_length=64, required=False, strip=True)


@sensitive_post_parameters("code")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ActionForm(request.POST or None)
    context: dict[str, Any] = {"form": form}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            outcome = act(request, form.cleaned_data["action"], form.cleaned_data["code"])
            context.update(outcome)
            if "error" in outcome:
                status = 400
        else:
            context["error"] = "Choose an action: " + ", ".join(ACTIONS) + "."
            status = 400
    pending = two_factor.pending_authenticator(user)
    context.update(
        {
            "enrolled": two_factor.is_enrolled(user),
            "required": two_factor.required_for(user),
            "by_sso": signed_in_by_sso(request),
            "recovery_left": two_factor.recovery_codes_left(user),
            "pending": pending,
        }
    )
    if pending is not None and "recovery_codes" not in context:
        context["qr_svg"] = two_factor.qr_code_svg(pending)
        context["secret"] = two_factor.secret_for_typing(pending)
    return render(request, "accounts/two_factor.html", context, status=status)


def act(request: HttpRequest, action: str, code: str) -> dict[str, Any]:
    """Carry out one action; what to show (an error, a notice, or recovery codes to show once)."""
    user = request.user
    enrolled = two_factor.is_enrolled(user)
    if action == "confirm":
        pending = two_factor.pending_authenticator(user)
        if pending is None:
            return {"error": "There is no authenticator waiting to be confirmed; set one up first."}
        codes = two_factor.confirm_enrollment(pending, code)
        if codes is None:
            return {"error": "That code is wrong. Enter the code your authenticator app shows now."}
        otp_login(request, pending)
        return {"recovery_codes": codes, "notice": "Two-factor log-in is on."}
    if enrolled:
        device = two_factor.verify(user, code)
        if device is None:
            return {"error": "Enter a current code from your authenticator (or a recovery code) to change this."}
        otp_login(request, device)
    if action == "start":
        two_factor.start_enrollment(user)
        return {"notice": "Scan the QR code, then enter the code your app shows to confirm."}
    if not enrolled:
        return {"error": "Two-factor log-in is not set up."}
    if action == "recovery":
        return {
            "recovery_codes": two_factor.new_recovery_codes(user),
            "notice": "New recovery codes; the old ones no longer work.",
        }
    if two_factor.required_for(user):
        return {
            "error": "Two-factor log-in is required for you here (REQUIRE_2FA); set up a new authenticator instead."
        }
    two_factor.remove(user)
    return {"notice": "Two-factor log-in is off."}
