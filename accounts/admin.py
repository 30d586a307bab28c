"""Users in the admin: the reset of someone's second factor, and single sign-on identities.

django-otp's own device pages are taken off the admin: they show each authenticator's secret,
which no one but its owner should read. An admin resets a lost second factor instead; the
user enrolls again at their next log-in (or when REQUIRE_2FA asks).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import SsoIdentity

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.action(description="Reset two-factor log-in (the user sets it up again)", permissions=["change"])
def reset_two_factor(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    for user in queryset:
        two_factor.remove(user)
    modeladmin.message_user(request, f"Two-factor log-in reset for {queryset.count()} user(s).", messages.SUCCESS)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    actions = [reset_two_factor]
    list_display = ("username", "email", "is_staff", "is_active", "two_factor")

    @admin.display(boolean=True, description="two-factor")
    def two_factor(self, user: Any) -> bool:
        return two_factor.is_enrolled(user)


@admin.register(SsoIdentity)
class SsoIdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "subject", "issuer", "created", "last_login")
    search_fields = ("user__username", "subject")
    readonly_fields = ("user", "issuer", "subject", "created", "last_login")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
