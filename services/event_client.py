"""Send a domain event to the hub without HTTP: copy this file into a producer.

A service that already shares the hub's Redis broker puts its health on the
`domain-events` queue, where the hub's Celery worker applies it:

    from events import emit  # this file, copied
    emit("SYSTEM_SERVICE_HEALTHY", {"serviceName": "seo", "checkedAt": now_iso(), "metrics": {"queueDepth": 3}},
         broker_url="redis://redis:6379/0")

It needs only `celery` (any 5.x). The broker URL comes from `broker_url`, else
STATUSDASH_BROKER_URL, else REDIS_URL. Invalid events are refused by the hub's
worker and logged there; use `POST /api/events` when you need the 422 back.
The HTTP way, for anything that can send JSON:

    curl -sf -X POST "$HUB/api/events" -H "Authorization: Bearer $SERVICE_KEY" \\
      -H 'Content-Type: application/json' \\
      -d '{"type": "SYSTEM_SERVICE_HEALTHY", "payload": {"serviceName": "seo", "checkedAt": "2026-01-10T12:00:00Z"}}'
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from celery import Celery

DOMAIN_EVENTS_QUEUE = "domain-events"
DOMAIN_EVENT_TASK = "statusdash.domain_event"
EVENT_TYPES = ("SYSTEM_SERVICE_HEALTHY", "SYSTEM_SERVICE_UNHEALTHY", "SYSTEM_ALERT_TRIGGERED", "SYSTEM_ALERT_RESOLVED")


@lru_cache(maxsize=4)
def _producer(broker_url: str) -> Any:
    # One app (and connection pool) per broker, reused across calls.
    return Celery("statusdash-events", broker=broker_url, set_as_current=False)


def _plain(value: Any) -> Any:
    # Timestamps travel as ISO 8601 text, as over HTTP.
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def emit(type: str, payload: dict[str, Any], *, broker_url: str | None = None) -> None:
    """Queue one event `{"type": type, "payload": payload}` for the hub."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; expected one of {', '.join(EVENT_TYPES)}")
    url = broker_url or os.environ.get("STATUSDASH_BROKER_URL") or os.environ.get("REDIS_URL")
    if not url:
        raise ValueError("no broker: pass broker_url= or set STATUSDASH_BROKER_URL (or REDIS_URL)")
    _producer(url).send_task(
        DOMAIN_EVENT_TASK, args=[{"type": type, "payload": _plain(payload)}], queue=DOMAIN_EVENTS_QUEUE
    )
