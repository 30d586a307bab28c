"""Retention: events older than AUDIT_RETENTION_DAYS go, hourly; newer ones stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from audit.models import AuditEvent, prune


def event(days_ago: float) -> AuditEvent:
    return AuditEvent.objects.create(actor_name="ana", action="changed", at=timezone.now() - timedelta(days=days_ago))


@pytest.mark.django_db
def test_events_past_retention_are_pruned_and_newer_kept(settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    old, kept = event(30.01), event(29.99)
    assert prune(timezone.now()) == 1
    assert list(AuditEvent.objects.all()) == [kept]
    assert not AuditEvent.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_retention_defaults_to_a_year() -> None:
    assert django_settings.AUDIT_RETENTION_DAYS == 365
    event(364)
    assert prune(timezone.now()) == 0


@pytest.mark.django_db
def test_prune_runs_in_batches(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audit.models.PRUNE_BATCH", 2)
    for _ in range(5):
        event(400)
    assert prune(timezone.now()) == 5


def test_the_hourly_beat_prunes_the_trail() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["audit-prune"]
    assert entry == {"task": "audit.tasks.prune_audit_trail", "schedule": 3600}
