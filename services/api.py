"""POST /api/events: services report their health (one event or a batch) with a service key."""

from __future__ import annotations

import logging

from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError, ValidationError

from hosts.identity import SERVICE_KEY_HINT, presented_api_key, require_key
from hosts.models import ApiKey, ApiKeyScope
from services.models import DUPLICATE, Outcome, ServiceEvent
from services.schemas import (
    MAX_EVENTS_PER_BATCH,
    EventIn,
    EventInvalid,
    EventsAccepted,
    check_sender,
    parse_events,
)
from statusdash.lib.jsonparse import json_body
from statusdash.lib.schemas import ErrorOut

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
