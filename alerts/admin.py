from django.contrib import admin

from alerts.models import Alert


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("rule", "subject", "host", "state", "severity", "started_at", "resolved_at")
    list_filter = ("state", "severity")
    search_fields = ("rule", "subject", "host__name", "message")
