"""POST /api/events: services report their health (one event or a batch) with a service key."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError

from hosts.auth import READ_AUTH
from hosts.identity import SERVICE_KEY_HINT, presented_api_key, require_key
from hosts.models import ApiKey, ApiKeyScope
from services.models import DUPLICATE, Outcome, ServiceEvent, ServiceHealth
from services.schemas import (
    MAX_EVENTS_PER_BATCH,
    EventIn,
    EventInvalid,
    EventsAccepted,
    check_sender,
    parse_events,
)
from statusdash.lib import cursor
from statusdash.lib.etags import etag_for
from statusdash.lib.fielderrors import not_found
from statusdash.lib.jsonparse import json_body
from statusdash.lib.schemas import ONE_ERRORS, READ_ERRORS, ErrorOut

log = logging.getLogger("services.event_client")
router = Router(tags=["events"])


def service_key(request: HttpRequest) -> ApiKey:
    """`Authorization: Bearer sd_...` or `X-API-Key: sd_...`, of scope service."""
    raw = presented_api_key(request)
    if not raw:
        raise HttpError(401, f"a service API key is required (Authorization: Bearer sd_...); {SERVICE_KEY_HINT}")
    return require_key(raw, ApiKeyScope.SERVICE)


def _body_schema() -> dict[str, object]:
    # The body is parsed by hand (one event or a batch), so document both forms for clients.
    event = EventIn.model_json_schema()
    batch = {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {"type": "array", "items": event, "minItems": 1, "maxItems": MAX_EVENTS_PER_BATCH}},
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [event, batch]}}}}}


@router.post(
    "",
    auth=service_key,
    response={202: EventsAccepted, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut},
    openapi_extra=_body_schema(),
)
def receive_events(request: HttpRequest) -> Status:
    """Receive one domain event, or `{"events": [...]}` (up to 500), all-or-nothing.

    An event older than the state held is logged and counted as `outdated`; one
    received before is counted as a duplicate. See docs/events.md.
    """
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    data = json_body(request)
    try:
        events = parse_events(data)
        check_sender(events, key.service, ("body",), is_batch=isinstance(data, dict) and "events" in data)
    except EventInvalid as error:
        raise ValidationError(error.errors) from None
    counts = ServiceEvent.objects.record(events, via="http")
    log.info("events received", extra={"service": key.service, "events": len(events), **counts})
    return Status(
        202,
        {
            "accepted": counts[Outcome.APPLIED],
            "outdated": counts[Outcome.OUTDATED],
            "duplicates": counts[DUPLICATE],
        },
    )


# --- /api/services: read what the hub knows of each service ------------------

services_router = Router(tags=["services"], auth=READ_AUTH)


class ServiceStateOut(Schema):
    name: str
    display_name: str
    status: str
    since: datetime | None
    last_check: datetime | None
    last_event_at: datetime | None
    expected_interval: int
    metrics: dict[str, Any] | None
    last_error: str
    public: bool


class ServicePage(Schema):
    items: list[ServiceStateOut]
    next_cursor: str | None


def shown_service(service: ServiceHealth) -> dict[str, Any]:
    return {
        "name": service.name,
        "display_name": service.display_name,
        "status": service.status,
        "since": service.since,
        "last_check": service.last_check,
        "last_event_at": service.last_event_at,
        "expected_interval": service.expected_interval,
        "metrics": service.metrics,
        "last_error": service.last_error,
        "public": service.public,
    }


@services_router.get("", response={200: ServicePage, **READ_ERRORS})
def list_services(request: HttpRequest, query: Query[cursor.PageQuery]) -> dict[str, Any]:
    """Every service that has sent events, by name, with its current state."""
    items, next_cursor = cursor.page(ServiceHealth.objects.all(), key="name", descending=False, query=query)
    return {"items": [shown_service(s) for s in items], "next_cursor": next_cursor}


@services_router.get("/{name}", response={200: ServiceStateOut, **ONE_ERRORS})
def get_service(request: HttpRequest, name: str, response: HttpResponse) -> dict[str, Any]:
    """One service by the name its events carry, and its ETag."""
    service = ServiceHealth.objects.filter(name=name).first()
    if service is None:
        raise not_found("service", name)
    shown = shown_service(service)
    response["ETag"] = etag_for(shown)
    return shown
