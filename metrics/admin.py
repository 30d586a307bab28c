from django.contrib import admin

from metrics.models import MetricSample


@admin.register(MetricSample)
class MetricSampleAdmin(admin.ModelAdmin):
    list_display = ("host", "collected_at", "cpu_percent", "memory_percent", "disk_percent")
    list_filter = ("host",)
    date_hierarchy = "collected_at"
    list_select_related = ("host",)
    show_full_result_count = False  # counting millions of rows on every page view is slow
    readonly_fields = [f.name for f in MetricSample._meta.fields]
