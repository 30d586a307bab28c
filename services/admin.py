from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from services import service_cache
from services.models import DailyAvailability, PublicHost, ServiceEvent, ServiceFlip, ServiceHealth


class ServiceFlipInline(admin.TabularInline):
    model = ServiceFlip
    extra = 0
    fields = ("at", "old_status", "new_status")
    readonly_fields = fields
    can_delete = False
    ordering = ("-at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("-at")


@admin.register(ServiceHealth)
class ServiceHealthAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "status", "last_check", "since", "expected_interval", "public")
    list_filter = ("status", "public")
    list_editable = ("public",)
    search_fields = ("name", "display_name")
    fields = (
        "name",
        "display_name",
        "expected_interval",
        "public",
        "public_errors",
        "status",
        "since",
        "last_check",
        "last_event_at",
        "last_error",
        "metrics",
    )
    readonly_fields = ("status", "since", "last_check", "last_event_at", "last_error", "metrics")
    inlines = [ServiceFlipInline]

    # Names and labels are cached for the sentiment: drop what an edit changes, rebuilt on the next read.
    def save_model(self, request: HttpRequest, obj: ServiceHealth, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        service_cache.forget_services(obj.name, form.initial.get("name", obj.name))

    def delete_model(self, request: HttpRequest, obj: ServiceHealth) -> None:
        super().delete_model(request, obj)
        service_cache.forget_services(obj.name)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        names = list(queryset.values_list("name", flat=True))
        super().delete_queryset(request, queryset)
        service_cache.forget_services(*names)


@admin.register(ServiceEvent)
class ServiceEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "service", "type", "outcome", "via", "alert_id", "received_at")
    list_filter = ("type", "outcome", "via")
    search_fields = ("service__name", "alert_id", "error_message", "message")
    date_hierarchy = "occurred_at"
    list_select_related = ("service",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PublicHost)
class PublicHostAdmin(admin.ModelAdmin):
    list_display = ("host", "display_name", "show_alert_messages")
    autocomplete_fields = ("host",)


@admin.register(DailyAvailability)
class DailyAvailabilityAdmin(admin.ModelAdmin):
    list_display = ("day", "service", "host", "observed_seconds", "up_seconds")
    list_filter = ("day",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
