from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.tasks import prune_audit_trail


@pytest.mark.django_db
def test_the_prune_task_deletes_expired_events() -> None:
    AuditEvent.objects.create(actor_name="ana", action="login", at=timezone.now() - timedelta(days=366))
    AuditEvent.objects.create(actor_name="ana", action="login")
    assert prune_audit_trail.apply().get() == 1
    assert AuditEvent.objects.count() == 1
