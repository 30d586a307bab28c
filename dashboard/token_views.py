"""A person's own personal API tokens (/account/tokens/): the list, a new one (its secret shown once), revoking."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import DEFAULT_DAYS, MAX_DAYS, NAME_MAX_LENGTH, PersonalToken, TokenRefused, TokenScope
from accounts.roles import ROLES, role_of

EXPIRY_CHOICES = [(7, "7 days"), (30, "30 days"), (DEFAULT_DAYS, f"{DEFAULT_DAYS} days"), (MAX_DAYS, "1 year")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_LENGTH, help_text="What it is for, e.g. grafana or a backup script.")
    scope = forms.ChoiceField(help_text="What it may do: never more than your role, now or later.")
    expires_in_days = forms.TypedChoiceField(
        label="Expires in", coerce=int, choices=EXPIRY_CHOICES, initial=DEFAULT_DAYS
    )

    def __init__(self, *args: Any, role: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the scopes this user may give: no choice that ends in a refusal.
        allowed = ROLES[: ROLES.index(role) + 1] if role else ()
        scope = cast(forms.ChoiceField, self.fields["scope"])
        scope.choices = [(value, label) for value, label in TokenScope.choices if value in allowed]


def user_id(request: HttpRequest) -> int:
    pk = request.user.pk
    assert pk is not None  # login_required: never the anonymous user
    return pk


def page(request: HttpRequest, form: TokenForm, secret: str = "", status: int = 200) -> HttpResponse:
    tokens = PersonalToken.objects.filter(user_id=user_id(request))
    context = {"form": form, "tokens": tokens, "secret": secret, "nav": "tokens", "role": role_of(request.user)}
    return render(request, "account/tokens.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    role = role_of(request.user)
    if request.method == "GET":
        return page(request, TokenForm(role=role))
    form = TokenForm(request.POST, role=role)
    if not form.is_valid():
        return page(request, form, status=400)
    try:
        with transaction.atomic():
            data = form.cleaned_data
            _, secret = PersonalToken.issue(request.user, data["name"], data["scope"], data["expires_in_days"])
    except TokenRefused as refused:
        form.add_error(refused.field, refused.reason)
        return page(request, form, status=400)
    # The secret is in this answer only: no redirect, nothing in the session.
    return page(request, TokenForm(role=role), secret=secret, status=201)


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = PersonalToken.objects.filter(pk=pk, user_id=user_id(request)).first()
    if token is None:
        raise Http404("You have no such token.")
    if token.revoke():
        messages.success(request, f"Token {token.name} revoked: it no longer works.")
    return redirect("account-tokens")
