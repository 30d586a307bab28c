"""The audit trail: one row for each change a person made, and for each log-in and failed log-in."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

PRUNE_BATCH = 1000


class AuditAction(models.TextChoices):
    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    TEST_SENT = "test-sent", "test notification sent"
    LOGIN = "login", "logged in"
    LOGIN_FAILED = "login-failed", "failed log-in"
    LOGOUT = "logout", "logged out"


class AuditEvent(models.Model):
    """Who did what to which object, when and from where; `changes` holds {field: [before, after]}.

    The actor is kept as an id and a name, not a foreign key: the row must still say who it
    was after the user is deleted (and deleting a user must not touch the trail).
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True, help_text="The user's id.")
    actor_name = models.CharField(max_length=150, blank=True, db_index=True, help_text="The user's name then.")
    address = models.CharField(
        max_length=45, blank=True, help_text="The client's address (behind trusted proxies, the real client's)."
    )
    action = models.CharField(max_length=20, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit event"

    def __str__(self) -> str:
        what = f" {self.object_type} {self.object_label or self.object_id}" if self.object_type else ""
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or '?'} {self.action}{what}"


def prune(now: datetime) -> int:
    """Forget events older than AUDIT_RETENTION_DAYS; how many went. In batches, each its own
    transaction, so a year of rows never holds the write lock long; safe to run twice at once."""
    cutoff = now - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    expired = AuditEvent.objects.filter(at__lt=cutoff)
    deleted = 0
    while ids := list(expired.values_list("id", flat=True)[:PRUNE_BATCH]):
        with transaction.atomic():
            count, _ = AuditEvent.objects.filter(id__in=ids).delete()
        deleted += count
    return deleted


class IdempotentRequest(models.Model):
    """The first answer to a POST that carried an `Idempotency-Key` (audit/idempotency.py).

    A retry with the same key gets this answer again instead of creating a second object.
    Keys are per caller (`owner`: a user or an API key), so two callers cannot collide or
    read each other's answers; a row lives until `expires_at`.
    """

    owner = models.CharField(max_length=100, help_text="user:<id> or key:<id>")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="one_answer_per_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key} -> {self.status_code}"
