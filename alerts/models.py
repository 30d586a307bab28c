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
