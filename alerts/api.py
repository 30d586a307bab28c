"""/api/alerts: list with filters, read with transitions, acknowledge with a note, un-acknowledge.

Reading takes a session, a read key or a token; acknowledging an operator (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from ninja.errors import HttpError

from alerts.models import Alert, AlertState, Silence
from alerts.schemas import (
    AcknowledgeIn,
    AlertDetailOut,
    AlertFilters,
    AlertPage,
    shown_alert,
    shown_transition,
)
from hosts.auth import OPERATOR_AUTH, READ_AUTH, caller
from statusdash.lib import cursor
from statusdash.lib.etags import etag_for
from statusdash.lib.fielderrors import not_found
from statusdash.lib.schemas import ONE_ERRORS, READ_ERRORS, ErrorOut

router = Router(tags=["alerts"], auth=READ_AUTH)


def silenced_by(alert: Alert, silences: list[Silence]) -> list[int]:
    return [silence.pk for silence in silences if silence.covers(alert)]


def find(alert_id: int) -> Alert:
    alert = Alert.objects.select_related("host", "acknowledged_by").filter(pk=alert_id).first()
    if alert is None:
        raise not_found("alert", alert_id)
    return alert


def detail(alert: Alert, response: HttpResponse) -> dict[str, Any]:
    shown = shown_alert(alert, silenced_by(alert, list(Silence.objects.active())))
    shown["transitions"] = [shown_transition(t) for t in alert.transitions.order_by("created_at", "pk")]
    response["ETag"] = etag_for(shown)
    return shown


@router.get("", response={200: AlertPage, **READ_ERRORS})
def list_alerts(request: HttpRequest, filters: Query[AlertFilters]) -> dict[str, Any]:
    """Alerts, newest first, filtered by state, severity, host, service, rule and start time; by cursor."""
    alerts = Alert.objects.select_related("host", "acknowledged_by")
    if filters.state == "acknowledged":
        alerts = alerts.filter(state=AlertState.FIRING).exclude(acknowledged_at=None)
    elif filters.state:
        alerts = alerts.filter(state=filters.state)
    if filters.severity:
        alerts = alerts.filter(severity=filters.severity)
    if filters.host:
        alerts = alerts.filter(host__name=filters.host)
    if filters.service:
        alerts = alerts.filter(service=filters.service)
    if filters.rule:
        alerts = alerts.filter(rule=filters.rule)
    if filters.since:
        alerts = alerts.filter(started_at__gte=filters.since)
    if filters.until:
        alerts = alerts.filter(started_at__lt=filters.until)
    items, next_cursor = cursor.page(alerts, key="started_at", descending=True, query=filters)
    silences = list(Silence.objects.active())
    return {"items": [shown_alert(a, silenced_by(a, silences)) for a in items], "next_cursor": next_cursor}


@router.get("/{alert_id}", response={200: AlertDetailOut, **ONE_ERRORS})
def get_alert(request: HttpRequest, alert_id: int, response: HttpResponse) -> dict[str, Any]:
    """One alert with its transitions (oldest first), and its ETag."""
    return detail(find(alert_id), response)


@router.post("/{alert_id}/ack", auth=OPERATOR_AUTH, response={200: AlertDetailOut, **ONE_ERRORS, 409: ErrorOut})
def acknowledge(request: HttpRequest, alert_id: int, body: AcknowledgeIn, response: HttpResponse) -> dict[str, Any]:
    """Acknowledge a firing alert with a note: reminders stop. Acknowledging it again changes nothing."""
    with transaction.atomic():
        alert = find(alert_id)
        if alert.state == AlertState.RESOLVED:
            raise HttpError(409, "a resolved alert cannot be acknowledged")
        alert.acknowledge(caller(request), note=body.note)
    return detail(find(alert_id), response)


@router.delete("/{alert_id}/ack", auth=OPERATOR_AUTH, response={200: AlertDetailOut, **ONE_ERRORS})
def unacknowledge(request: HttpRequest, alert_id: int, response: HttpResponse) -> dict[str, Any]:
    """Take the acknowledgement back: reminders start again while it fires."""
    find(alert_id).unacknowledge(caller(request))
    return detail(find(alert_id), response)
