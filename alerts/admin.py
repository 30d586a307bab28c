from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.rights import ACKNOWLEDGE, SEND_TEST_NOTIFICATION, may
from alerts import delivery, events
from alerts.models import (
    Alert,
    AlertRule,
    AlertTransition,
    AuditAction,
    AuditEntry,
    Notification,
    NotificationChannel,
    Silence,
)
from audit import trail as audit_trail
from audit.models import AuditAction as TrailAction


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TransitionInline(ReadOnlyInline):
    model = AlertTransition
    fields = ("created_at", "kind", "old_state", "new_state", "severity", "value", "outcome", "processed_at")


class AuditInline(ReadOnlyInline):
    model = AuditEntry
    fields = ("at", "username", "action", "detail")


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "metric",
        "warning_level",
        "critical_level",
        "clear_level",
        "duration_seconds",
        "host",
        "tag",
        "subject",
        "enabled",
    )
    list_editable = ("enabled",)
    list_filter = ("metric", "enabled")
    search_fields = ("name", "tag", "subject")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "rule",
        "subject",
        "host",
        "service",
        "state",
        "severity",
        "started_at",
        "resolved_at",
        "acknowledged_by",
    )
    list_filter = ("state", "severity", "rule")
    search_fields = ("rule", "subject", "host__name", "service", "message")
    list_select_related = ("host", "acknowledged_by")
    readonly_fields = [*(f.name for f in Alert._meta.fields), "delivery_log"]
    inlines = [TransitionInline, AuditInline]
    actions = ["acknowledge"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # alerts are raised by rules, not typed in

    @admin.display(description="delivery log")
    def delivery_log(self, alert: Alert) -> str:
        rows = [
            (n.created_at.strftime("%Y-%m-%d %H:%M:%S"), n.channel.name, n.status, n.attempts, n.error or "")
            for n in alert.deliveries()
        ]
        if not rows:
            return "nothing sent"
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{} {}: {} after {} attempt(s) {}</li>", rows),
        )

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return may(request.user, ACKNOWLEDGE)

    @admin.action(description="Acknowledge (stop reminders)", permissions=["acknowledge"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        done = sum(alert.acknowledge(request.user) for alert in queryset)
        self.message_user(request, f"Acknowledged {done} alert(s).")


class SilenceForm(forms.ModelForm):
    class Meta:
        model = Silence
        fields = ("reason", "starts_at", "ends_at", "hosts", "tags", "services", "hub", "rules", "matchers")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # Checked here, not in Silence.clean(): the hosts are not on the row until after it is saved.
        targets = [data.get(name) for name in ("hosts", "tags", "services", "hub", "rules", "matchers")]
        if not self.errors and not any(targets):
            raise forms.ValidationError(
                "A silence must cover something: a host, a tag, a service, hub alerts, a rule or matchers."
            )
        return data


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    list_display = ("reason", "scope", "starts_at", "ends_at", "active_now", "created_by", "created_at")
    list_filter = ("starts_at", "hub")
    search_fields = ("reason",)
    filter_horizontal = ("hosts",)
    fields = (
        "reason",
        "starts_at",
        "ends_at",
        "hosts",
        "tags",
        "services",
        "hub",
        "rules",
        "matchers",
        "created_by",
        "created_at",
    )
    readonly_fields = ("created_by", "created_at")
    inlines = [AuditInline]
    actions = ["end_now"]

    @admin.display(boolean=True, description="active")
    def active_now(self, silence: Silence) -> bool:
        return silence.is_active()

    @admin.display(description="covers")
    def scope(self, silence: Silence) -> str:
        return silence.scope()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Silence]:
        return super().get_queryset(request).prefetch_related("hosts").select_related("created_by")

    def save_model(self, request: HttpRequest, obj: Silence, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        silence = form.instance
        AuditEntry.record(request.user, AuditAction.CHANGE_SILENCE if change else AuditAction.SILENCE, silence=silence)
        events.silence_changed(silence)

    @admin.action(description="End now", permissions=["change"])
    def end_now(self, request: HttpRequest, queryset: QuerySet[Silence]) -> None:
        for silence in queryset.filter(ends_at__gt=timezone.now()):
            silence.end(request.user)
            events.silence_changed(silence)


class NotificationInline(ReadOnlyInline):
    model = Notification
    fields = ("created_at", "title", "status", "attempts", "error", "sent_at")


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "min_severity", "tags", "send_resolved", "enabled")
    list_editable = ("enabled",)
    actions = ["send_test"]
    inlines = [NotificationInline]

    def has_send_test_permission(self, request: HttpRequest) -> bool:
        # An operator sends tests without being able to change the channel (accounts.rights).
        return may(request.user, SEND_TEST_NOTIFICATION)

    @admin.action(description="Send a test notification", permissions=["send_test"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        for channel in queryset:
            notification = delivery.create_leased(
                channel=channel,
                title="statusdash test notification",
                body=f"Sent from the admin by {request.user.get_username()}. If you read this, {channel.name} works.",
            )
            AuditEntry.record(request.user, AuditAction.TEST_CHANNEL, detail=channel.name)
            audit_trail.record(request.user, TrailAction.TEST_SENT, channel)
            if delivery.deliver(notification, final_attempt=True):
                self.message_user(request, f"{channel.name}: test sent.")
            else:
                self.message_user(request, f"{channel.name}: failed: {notification.error}", messages.ERROR)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel", "title", "status", "attempts", "sent_at")
    list_filter = ("status", "channel")
    search_fields = ("title", "body")
    fields = (
        "channel",
        "title",
        "body",
        "severity",
        "status",
        "attempts",
        "error",
        "created_at",
        "sent_at",
        "next_attempt_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the delivery log is history; the dispatch sweep owns pending rows


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "username", "action", "detail", "alert", "silence")
    list_filter = ("action",)
    search_fields = ("username", "detail")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
