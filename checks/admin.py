from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from checks.models import EDITABLE_FIELDS, Check, CheckFlip

SECRET_FIELDS = ("password", "bearer_token")


class CheckForm(forms.ModelForm):
    forget_secrets = forms.BooleanField(
        required=False,
        label="Forget the stored password and token",
        help_text="A new one typed above replaces it anyway.",
    )

    class Meta:
        model = Check
        fields = (
            *sorted(EDITABLE_FIELDS),
            "host",
            "host_tag",
            "next_run_at",
        )
        widgets = {
            # Write-only, as on the dashboard's form: never sent back to the browser. A blank
            # field keeps the stored secret (re-typing it to change another field would be a trap).
            "password": forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            "bearer_token": forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in SECRET_FIELDS:
            if getattr(self.instance, field, ""):
                self.fields[field].help_text = "One is stored (never shown): leave blank to keep it."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for field in SECRET_FIELDS:
            if not cleaned.get(field) and not cleaned.get("forget_secrets") and self.instance.pk is not None:
                stored = Check.objects.filter(pk=self.instance.pk).values_list(field, flat=True).first() or ""
                cleaned[field] = stored
                setattr(self.instance, field, stored)
        return cleaned


@admin.register(Check)
class CheckAdmin(admin.ModelAdmin):
    form = CheckForm
    list_display = ("name", "kind", "target", "interval", "state", "last_latency_ms", "last_result_at", "enabled")
    list_filter = ("kind", "state", "enabled", "public")
    search_fields = ("name", "target")
    readonly_fields = ("state", "since", "consecutive_failures", "last_result_at", "last_latency_ms", "last_message")
    fieldsets = (
        (None, {"fields": ("name", "kind", "target", "options", "enabled", "public", "tags")}),
        ("Timing", {"fields": ("interval", "timeout", "retries", "next_run_at")}),
        ("Where it runs (neither: the hub)", {"fields": ("host", "host_tag")}),
        (
            "HTTP credentials",
            {"classes": ("collapse",), "fields": ("username", "password", "bearer_token", "forget_secrets")},
        ),
        ("State", {"fields": readonly_fields}),
    )


@admin.register(CheckFlip)
class CheckFlipAdmin(admin.ModelAdmin):
    list_display = ("service_check", "old_state", "new_state", "at")
    list_filter = ("new_state",)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
