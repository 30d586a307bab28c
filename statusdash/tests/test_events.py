"""services.event_client.emit, the emitter producers copy (the queue path itself: services/tests/test_queue_worker.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from services import event_client as events


def test_unknown_type_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        events.emit("SYSTEM_SERVICE_SLEEPY", {}, broker_url="memory://")


def test_no_broker_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATUSDASH_BROKER_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ValueError, match="no broker"):
        events.emit("SYSTEM_SERVICE_HEALTHY", {"serviceName": "seo"})


def test_event_goes_to_the_domain_events_queue_with_iso_times() -> None:
    sent: list[dict[str, Any]] = []
    producer = events._producer("memory://")
    with mock.patch.object(producer, "send_task", autospec=True, side_effect=lambda *a, **kw: sent.append(kw)):
        at = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
        events.emit("SYSTEM_SERVICE_HEALTHY", {"serviceName": "seo", "checkedAt": at}, broker_url="memory://")
    assert sent == [
        {
            "args": [
                {"type": "SYSTEM_SERVICE_HEALTHY", "payload": {"serviceName": "seo", "checkedAt": at.isoformat()}}
            ],
            "queue": "domain-events",
        }
    ]
