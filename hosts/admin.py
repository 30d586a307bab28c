from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from hosts.models import ApiKey, Host


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "scope", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "scope", "label", "created_at", "last_used_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "enabled", "status_now", "last_seen", "os", "agent_version")
    list_filter = ("enabled",)
    search_fields = ("name", "display_name", "description")
    readonly_fields = (
        "first_seen",
        "last_seen",
        "os",
        "kernel",
        "arch",
        "cpu_count",
        "agent_version",
        "boot_time",
        "reported_hostname",
        "created_at",
    )
    inlines = [ApiKeyInline]
    actions = ["create_agent_key"]

    @admin.display(description="status")
    def status_now(self, host: Host) -> str:
        return host.status()

    @admin.action(description="Create an agent API key (shown once)")
    def create_agent_key(self, request: HttpRequest, queryset: Any) -> None:
        for host in queryset:
            _, raw = ApiKey.issue("agent", host=host, label="created in admin")
            self.message_user(
                request, f"Agent key for {host.name} (copy it now, it is not shown again): {raw}", messages.WARNING
            )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "scope", "host", "service", "label", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", "revoked_at")
    search_fields = ("prefix", "label", "host__name", "service")
    fields = ("scope", "host", "service", "label", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A key's scope and owner are fixed once issued: issue a new key instead.
        if obj is not None:
            return (*self.readonly_fields, "scope", "host", "service")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = ApiKey.issue(obj.scope, host=obj.host, label=obj.label, service=obj.service)
        obj.pk = key.pk
        obj.refresh_from_db()
        self.message_user(request, f"New key (copy it now, it is not shown again): {raw}", messages.WARNING)

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset:
            key.revoke()
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
