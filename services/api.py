"""POST /api/events: services report their health (one event or a batch) with a service key."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError

from hosts.auth import ADMIN_AUTH, READ_AUTH, caller
from hosts.identity import SERVICE_KEY_HINT, presented_api_key, require_key
from hosts.models import ApiKey, ApiKeyScope
from services.models import DUPLICATE, Outcome, ServiceEvent, ServiceHealth, ServiceOverride, ServiceStatus
from services.schemas import (
    MAX_EVENTS_PER_BATCH,
    EventIn,
    EventInvalid,
    EventsAccepted,
    check_sender,
    parse_events,
)
from statusdash.lib import cursor
from statusdash.lib.etags import CONDITIONAL, etag_for, require_current
from statusdash.lib.fielderrors import field_error, not_found
from statusdash.lib.jsonparse import json_body
from statusdash.lib.schemas import ONE_ERRORS, READ_ERRORS, WRITE_ERRORS, ErrorOut, IsoTime

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


class OverrideIn(Schema):
    status: ServiceStatus = Field(description="What the overall sentiment counts the service as.")
    reason: str = Field(min_length=1, max_length=200, examples=["health check broken, service fine (INC-42)"])
    until: IsoTime | None = Field(None, description="When it stops counting; null (and no duration): until removed.")
    duration_seconds: int | None = Field(None, ge=1, le=366 * 86400, examples=[3600])


class OverrideOut(Schema):
    status: str
    reason: str
    set_by: str
    created_at: datetime
    until: datetime | None
    in_force: bool


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
    override: OverrideOut | None = Field(description="An admin's override, if one is set (in force or not).")
    effective_status: str = Field(
        description="What the overall sentiment counts: the override's status while in force."
    )


class ServicePage(Schema):
    items: list[ServiceStateOut]
    next_cursor: str | None


def shown_override(override: ServiceOverride | None) -> dict[str, Any] | None:
    if override is None:
        return None
    return {
        "status": override.status,
        "reason": override.reason,
        "set_by": override.set_by_name,
        "created_at": override.created_at,
        "until": override.until,
        "in_force": override.is_in_force(),
    }


def shown_service(service: ServiceHealth) -> dict[str, Any]:
    override = ServiceOverride.objects.filter(service=service).first()
    in_force = override is not None and override.is_in_force()
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
        "override": shown_override(override),
        "effective_status": override.status if override is not None and in_force else service.status,
    }


@services_router.get("", response={200: ServicePage, **READ_ERRORS})
def list_services(request: HttpRequest, query: Query[cursor.PageQuery]) -> dict[str, Any]:
    """Every service that has sent events, by name, with its current state."""
    items, next_cursor = cursor.page(ServiceHealth.objects.all(), key="name", descending=False, query=query)
    return {"items": [shown_service(s) for s in items], "next_cursor": next_cursor}


@services_router.get("/{name}", response={200: ServiceStateOut, **ONE_ERRORS})
def get_service(request: HttpRequest, name: str, response: HttpResponse) -> dict[str, Any]:
    """One service by the name its events carry, and its ETag."""
    shown = shown_service(find_service(name))
    response["ETag"] = etag_for(shown)
    return shown


def find_service(name: str, *, lock: bool = False) -> ServiceHealth:
    services = ServiceHealth.objects.select_for_update() if lock else ServiceHealth.objects.all()
    service = services.filter(name=name).first()
    if service is None:
        raise not_found("service", name)
    return service


@services_router.put(
    "/{name}/override", auth=ADMIN_AUTH, openapi_extra=CONDITIONAL, response={200: ServiceStateOut, **WRITE_ERRORS}
)
def set_override(request: HttpRequest, name: str, body: OverrideIn, response: HttpResponse) -> dict[str, Any]:
    """Set (or replace) an admin's override of the service's status, with why and until when. Honours If-Match."""
    if body.until is not None and body.duration_seconds is not None:
        raise field_error("until", "give until or duration_seconds, not both")
    now = timezone.now()
    until = body.until or (now + timedelta(seconds=body.duration_seconds) if body.duration_seconds else None)
    if until is not None and until <= now:
        raise field_error("until", "must be in the future")
    with transaction.atomic():
        service = find_service(name, lock=True)
        require_current(request, etag_for(shown_service(service)))
        ServiceOverride.put(service, status=body.status, reason=body.reason, until=until, user=caller(request))
    shown = shown_service(service)
    response["ETag"] = etag_for(shown)
    return shown


@services_router.delete(
    "/{name}/override", auth=ADMIN_AUTH, openapi_extra=CONDITIONAL, response={200: ServiceStateOut, **WRITE_ERRORS}
)
def remove_override(request: HttpRequest, name: str, response: HttpResponse) -> dict[str, Any]:
    """Remove the override: the service counts as its events say again. Honours If-Match."""
    with transaction.atomic():
        service = find_service(name, lock=True)
        require_current(request, etag_for(shown_service(service)))
        if not ServiceOverride.remove(service):
            raise not_found("override of service", name)
    shown = shown_service(service)
    response["ETag"] = etag_for(shown)
    return shown
