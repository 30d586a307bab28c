from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from audit.models import AuditEvent


class ObjectTypeFilter(admin.SimpleListFilter):
    title = "object type"
    parameter_name = "object_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        types = AuditEvent.objects.exclude(object_type="").order_by("object_type")
        return [(t, t) for t in types.values_list("object_type", flat=True).distinct()]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(object_type=self.value()) if self.value() else queryset


class ActorFilter(admin.SimpleListFilter):
    title = "actor"
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = AuditEvent.objects.exclude(actor_name="").order_by("actor_name")
        return [(n, n) for n in names.values_list("actor_name", flat=True).distinct()[:200]]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(actor_name=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """History, read-only for everyone (superusers too): no add, change or delete, no bulk action."""

    list_display = ("at", "actor_name", "address", "action", "object_type", "object_label", "changed_fields")
    list_filter = ("action", ObjectTypeFilter, ActorFilter, ("at", admin.DateFieldListFilter))
    search_fields = ("actor_name", "address", "object_label", "object_id", "object_type")
    date_hierarchy = "at"
    readonly_fields = [*(f.name for f in AuditEvent._meta.fields if f.name != "changes"), "changes_table"]
    exclude = ("changes",)
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="fields")
    def changed_fields(self, event: AuditEvent) -> str:
        return ", ".join(event.changes)

    @admin.display(description="changes (before → after)")
    def changes_table(self, event: AuditEvent) -> str:
        if not event.changes:
            return "—"
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((name, json.dumps(before), json.dumps(after)) for name, (before, after) in event.changes.items()),
        )
        return format_html("<table><tr><th>field</th><th>before</th><th>after</th></tr>{}</table>", rows)
