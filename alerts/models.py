"""Alerts. This first cut holds only what the host list needs: which alerts are firing.

The alerting issue adds rules, transitions, silences and notifications.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from hosts.models import Host


class AlertState(models.TextChoices):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(models.TextChoices):
    WARNING = "warning"
    CRITICAL = "critical"


class AlertQuerySet(models.QuerySet["Alert"]):
    def firing(self) -> AlertQuerySet:
        return self.filter(state=AlertState.FIRING)

    def fire(
        self,
        rule: str,
        *,
        host: Host | None = None,
        subject: str = "",
        severity: str = Severity.WARNING,
        message: str = "",
    ) -> Alert:
        """Open an alert for (rule, host, subject), or update the one already firing. Idempotent."""
        alert = self.firing().filter(rule=rule, host=host, subject=subject).first()
        if alert is None:
            return self.create(rule=rule, host=host, subject=subject, severity=severity, message=message)
        if (alert.severity, alert.message) != (severity, message):
            alert.severity, alert.message = severity, message
            alert.save(update_fields=["severity", "message"])
        return alert

    def resolve(self, rule: str, *, host: Host | None = None, subject: str = "") -> Alert | None:
        """Resolve the firing alert for (rule, host, subject), if there is one. Idempotent."""
        alert = self.firing().filter(rule=rule, host=host, subject=subject).first()
        if alert is not None:
            alert.state, alert.resolved_at = AlertState.RESOLVED, timezone.now()
            alert.save(update_fields=["state", "resolved_at"])
        return alert


class Alert(models.Model):
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    rule = models.CharField(max_length=100)
    subject = models.CharField(max_length=200, blank=True, help_text="What the rule looked at, e.g. a mount.")
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.FIRING, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["host", "state"], name="alert_host_state")]

    def __str__(self) -> str:
        return f"{self.rule} {self.subject} on {self.host or 'hub'}: {self.state}"
