"""Domain events as services send them: the BaseDomainEvent envelope and payloads (docs/events.md, "Event types").

    {"type": "SYSTEM_SERVICE_HEALTHY", "payload": {"serviceName": ..., "checkedAt": ..., "metrics": {...}}}

The same parsing serves `POST /api/events` and the `domain-events` queue. Errors
carry a `loc` naming the field (`["body", "events", 3, "payload", "checkedAt"]`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from django.conf import settings
from django.utils import timezone
from ninja import Schema
from pydantic import Field, StringConstraints, ValidationError, ValidationInfo, field_validator

from alerts.models import SERVICE_NAME_MAX_LENGTH, SERVICE_NAME_PATTERN
from services.models import DomainEvent, EventType

MAX_EVENTS_PER_BATCH = 500
MAX_METRICS_BYTES = 8 * 1024

ServiceName = Annotated[
    str, StringConstraints(min_length=1, max_length=SERVICE_NAME_MAX_LENGTH, pattern=SERVICE_NAME_PATTERN)
]
AlertId = Annotated[str, StringConstraints(min_length=1, max_length=90, pattern=r"^[\x21-\x7e]+$")]
# No NUL characters: PostgreSQL cannot store them in text or jsonb.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
MetricText = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
MetricValue = Annotated[float, Field(allow_inf_nan=False)] | int | bool | MetricText | None
SeverityName = Literal["info", "low", "warning", "medium", "high", "critical"]
EventTypeName = Literal[
    "SYSTEM_SERVICE_HEALTHY", "SYSTEM_SERVICE_UNHEALTHY", "SYSTEM_ALERT_TRIGGERED", "SYSTEM_ALERT_RESOLVED"
]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
Metrics = Annotated[dict[MetricName, MetricValue], Field(max_length=100)]


def recent(value: datetime | None, info: ValidationInfo) -> datetime | None:
    """A timestamp with a zone, not in the future beyond clock skew, not older than the retention."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"{info.field_name} must include a time zone offset, e.g. +00:00 or Z")
    now = timezone.now()
    if value > now + timedelta(seconds=settings.FUTURE_TOLERANCE_SECONDS):
        raise ValueError(f"{info.field_name} is more than 5 minutes in the future; check the sender's clock")
    if value < now - timedelta(days=settings.RETENTION_DAYS):
        raise ValueError(f"{info.field_name} is older than the retention of {settings.RETENTION_DAYS} days")
    return value.astimezone(UTC)


class HealthPayload(Schema):
    serviceName: ServiceName
    checkedAt: datetime
    metrics: Metrics | None = None

    checked_at_is_recent = field_validator("checkedAt")(recent)

    @field_validator("metrics")
    @classmethod
    def metrics_are_small(cls, metrics: dict[str, Any] | None) -> dict[str, Any] | None:
        if metrics is not None and len(json.dumps(metrics)) > MAX_METRICS_BYTES:
            raise ValueError(f"metrics must be at most {MAX_METRICS_BYTES} bytes of JSON")
        return metrics


class HealthyPayload(HealthPayload):
    pass


class UnhealthyPayload(HealthPayload):
    errorMessage: Text = ""


class AlertTriggeredPayload(Schema):
    alertId: AlertId
    serviceName: ServiceName
    severity: SeverityName
    message: Text
    triggeredAt: datetime

    triggered_at_is_recent = field_validator("triggeredAt")(recent)


class AlertResolvedPayload(Schema):
    alertId: AlertId
    serviceName: ServiceName
    resolvedAt: datetime | None = Field(default=None, description="When it ended; the time received if absent.")
    message: Text = ""

    resolved_at_is_recent = field_validator("resolvedAt")(recent)


PAYLOADS: dict[str, type[Schema]] = {
    EventType.SERVICE_HEALTHY: HealthyPayload,
    EventType.SERVICE_UNHEALTHY: UnhealthyPayload,
    EventType.ALERT_TRIGGERED: AlertTriggeredPayload,
    EventType.ALERT_RESOLVED: AlertResolvedPayload,
}


class EventIn(Schema):
    """The envelope (documentation; parse_events validates it by type)."""

    type: EventTypeName
    payload: dict[str, Any]


class EventsAccepted(Schema):
    accepted: int = Field(description="Events that changed the state.")
    outdated: int = Field(description="Events older than the state held: logged, state kept.")
    duplicates: int = Field(description="Events received before: ignored.")


class EventInvalid(Exception):
    """Validation errors in the shape ninja returns with a 422."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _error(loc: list[Any], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def to_domain_event(type_: str, payload: Schema) -> DomainEvent:
    data = payload.model_dump()
    if type_ in (EventType.SERVICE_HEALTHY, EventType.SERVICE_UNHEALTHY):
        return DomainEvent(
            type=type_,
            service_name=data["serviceName"],
            occurred_at=data["checkedAt"],
            metrics=data["metrics"],
            error_message=data.get("errorMessage", ""),
        )
    return DomainEvent(
        type=type_,
        service_name=data["serviceName"],
        occurred_at=data.get("triggeredAt") or data.get("resolvedAt") or timezone.now(),
        alert_id=data["alertId"],
        severity=data.get("severity", ""),
        message=data["message"],
    )


def parse_event(data: Any, loc: list[Any]) -> DomainEvent:
    if not isinstance(data, dict):
        raise EventInvalid([_error(loc, 'expected an event {"type": ..., "payload": {...}}', "type_error")])
    type_ = data.get("type")
    if type_ is None:
        raise EventInvalid([_error([*loc, "type"], "Field required", "missing")])
    if not isinstance(type_, str) or type_ not in PAYLOADS:
        raise EventInvalid([_error([*loc, "type"], f"unknown event type; expected one of {', '.join(PAYLOADS)}")])
    if "payload" not in data:
        raise EventInvalid([_error([*loc, "payload"], "Field required", "missing")])
    if not isinstance(data["payload"], dict):
        raise EventInvalid([_error([*loc, "payload"], "expected an object", "type_error")])
    try:
        payload = PAYLOADS[type_].model_validate(data["payload"])
    except ValidationError as error:
        raise EventInvalid(
            [
                {**e, "loc": [*loc, "payload", *e["loc"]]}
                for e in error.errors(include_url=False, include_context=False, include_input=False)
            ]
        ) from None
    return to_domain_event(type_, payload)


def parse_events(data: Any, loc: tuple[Any, ...] = ("body",)) -> list[DomainEvent]:
    """One event or `{"events": [...]}`, validated whole: any error refuses them all."""
    if isinstance(data, dict) and "events" in data:
        events = data["events"]
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_BATCH:
            raise EventInvalid(
                [_error([*loc, "events"], f"expected a list of 1 to {MAX_EVENTS_PER_BATCH} events", "type_error")]
            )
        return [parse_event(event, [*loc, "events", i]) for i, event in enumerate(events)]
    return [parse_event(data, list(loc))]


def check_sender(events: list[DomainEvent], service: str, loc: tuple[Any, ...], is_batch: bool) -> None:
    """A service key reports for its own service only."""
    for i, event in enumerate(events):
        if event.service_name != service:
            where = [*loc, "events", i, "payload", "serviceName"] if is_batch else [*loc, "payload", "serviceName"]
            raise EventInvalid([_error(where, f"serviceName does not match this API key's service {service!r}")])
