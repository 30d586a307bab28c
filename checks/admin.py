from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from checks.models import EDITABLE_FIELDS, Check, CheckFlip


class CheckForm(forms.ModelForm):
    class Meta:
        model = Check
        fields = (
            *sorted(EDITABLE_FIELDS),
            "host",
            "host_tag",
            "next_run_at",
        )
        widgets = {
            # Shown as dots, kept on save: re-typing a secret to change another field would be a trap.
            "password": forms.PasswordInput(render_value=True),
            "bearer_token": forms.PasswordInput(render_value=True),
        }


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
        ("HTTP credentials", {"classes": ("collapse",), "fields": ("username", "password", "bearer_token")}),
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
