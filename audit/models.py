"""What the hub remembers about requests themselves, below every app that serves them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


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
