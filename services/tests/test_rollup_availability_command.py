"""python manage.py rollup_availability: backfill, and refusing a bad --days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from services.models import DailyAvailability, DomainEvent, EventType, ServiceEvent

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_backfills_past_days() -> None:
    with time_machine.travel(T0, tick=False):
        event = DomainEvent(type=EventType.SERVICE_HEALTHY, service_name="seo", occurred_at=T0)
        ServiceEvent.objects.record([event], via="http")
    out = StringIO()
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        call_command("rollup_availability", "--days", "5", stdout=out)
    assert DailyAvailability.objects.filter(service__name="seo").count() == 4  # Jan 10 to 13
    assert "Rolled up 5 days: 4 rows written." in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["0", "91", "-3"])
def test_days_out_of_range_is_a_clear_error(days: str) -> None:
    with pytest.raises(CommandError, match="--days must be 1 to 90"):
        call_command("rollup_availability", "--days", days)
