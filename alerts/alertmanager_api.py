"""/api/alertmanager/api/v2/…: a read-only Alertmanager v2 API over statusdash's alerts.

Point `amtool --alertmanager.url=https://HUB/api/alertmanager` or Grafana's Alertmanager
data source (implementation "Prometheus") at it, with a read key or a token as the bearer
credential. Shapes follow Alertmanager's OpenAPI document (alerts/tests/ keeps a copy the
tests validate against); docs/api.md says where the answers differ from a real Alertmanager.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from alerts.alertmanager import (
    MATCHER_PATTERN,
    BadMatcher,
    gettable_alert,
    gettable_silence,
    matches_all,
    parse_matcher,
)
from alerts.models import Alert, NotificationChannel, Silence
from hosts.auth import READ_AUTH
from statusdash.lib.fielderrors import field_error
from statusdash.lib.schemas import READ_ERRORS

router = Router(tags=["alertmanager"], auth=READ_AUTH)
STARTED = timezone.now()
# The most alerts one answer carries (Alertmanager has no paging either; firing alerts are few).
MAX_ALERTS = 5000


# Bounded so a query string stays within what the server reads of a request line.
Matcher = Annotated[str, Field(pattern=MATCHER_PATTERN, max_length=100)]
MATCHERS: Any = Field(
    default_factory=list, max_length=10, description='Matchers, e.g. host="web-1" or alertname=~"disk.*"'
)


class AlertQuery(Schema):
    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    unprocessed: bool = True
    filter: list[Matcher] = MATCHERS
    receiver: str | None = Field(None, max_length=100, description="A regex the receivers must match.")


class GroupQuery(Schema):
    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    filter: list[Matcher] = MATCHERS
    receiver: str | None = Field(None, max_length=100)


class SilenceQuery(Schema):
    filter: list[Matcher] = MATCHERS


# Open shapes: the recorded Alertmanager spec is what the tests hold these answers to.
class GettableAlert(Schema):
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: datetime
    endsAt: datetime
    updatedAt: datetime
    fingerprint: str
    receivers: list[dict[str, str]]
    status: dict[str, Any]
    generatorURL: str


class AlertGroup(Schema):
    labels: dict[str, str]
    receiver: dict[str, str]
    alerts: list[GettableAlert]


class GettableSilence(Schema):
    id: str
    status: dict[str, str]
    updatedAt: datetime
    matchers: list[dict[str, Any]]
    startsAt: datetime
    endsAt: datetime
    createdBy: str
    comment: str


class AlertmanagerStatus(Schema):
    cluster: dict[str, Any]
    versionInfo: dict[str, str]
    config: dict[str, str]
    uptime: datetime


def parsed(filters: list[str]) -> list[dict[str, Any]]:
    try:
        return [parse_matcher(text) for text in filters]
    except BadMatcher as error:
        raise field_error("filter", str(error), where="query") from None


def firing_alerts(filters: list[str], *, active: bool, silenced: bool, receiver: str | None) -> list[dict[str, Any]]:
    """Firing alerts as gettableAlerts: Alertmanager forgets an alert once it resolves."""
    matchers = parsed(filters)
    try:
        receiver_re = re.compile(receiver) if receiver else None
    except re.error as error:
        raise field_error("receiver", f"not a regular expression: {error}", where="query") from None
    now = timezone.now()
    silences = list(Silence.objects.active(now))
    channels = list(NotificationChannel.objects.filter(enabled=True))
    alerts = (
        Alert.objects.firing()
        .select_related("host", "acknowledged_by")
        .annotate(updated_at=Max("transitions__created_at"))
        .order_by("-started_at", "-pk")[:MAX_ALERTS]
    )
    shown = []
    for alert in alerts:
        if not matches_all(alert, matchers):
            continue
        gettable = gettable_alert(alert, silences, channels, now)
        suppressed = gettable["status"]["state"] == "suppressed"
        if (suppressed and not silenced) or (not suppressed and not active):
            continue
        if receiver_re and not any(receiver_re.fullmatch(r["name"]) for r in gettable["receivers"]):
            continue
        shown.append(gettable)
    return shown


@router.get("/alerts", response={200: list[GettableAlert], **READ_ERRORS})
def alerts(request: HttpRequest, query: Query[AlertQuery]) -> list[dict[str, Any]]:
    """Firing alerts as Alertmanager's `gettableAlerts` (what `amtool alert query` reads)."""
    return firing_alerts(query.filter, active=query.active, silenced=query.silenced, receiver=query.receiver)


@router.get("/alerts/groups", response={200: list[AlertGroup], **READ_ERRORS})
def alert_groups(request: HttpRequest, query: Query[GroupQuery]) -> list[dict[str, Any]]:
    """Firing alerts grouped by alertname (the rule), as Grafana's alert-group view reads them."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for alert in firing_alerts(query.filter, active=query.active, silenced=query.silenced, receiver=query.receiver):
        groups.setdefault(alert["labels"]["alertname"], []).append(alert)
    return [
        {"labels": {"alertname": name}, "receiver": {"name": "statusdash"}, "alerts": members}
        for name, members in sorted(groups.items())
    ]


@router.get("/silences", response={200: list[GettableSilence], **READ_ERRORS})
def silences(request: HttpRequest, query: Query[SilenceQuery]) -> list[dict[str, Any]]:
    """Silences as Alertmanager's `gettableSilences`, each with its matchers (`amtool silence query`)."""
    wanted = parsed(query.filter)
    now = timezone.now()
    shown = []
    for silence in (
        Silence.objects.select_related("created_by").prefetch_related("hosts").order_by("-starts_at")[:MAX_ALERTS]
    ):
        gettable = gettable_silence(silence, now)
        if all(any(m["name"] == w["name"] and m["value"] == w["value"] for m in gettable["matchers"]) for w in wanted):
            shown.append(gettable)
    return shown


@router.get("/receivers", response={200: list[dict[str, str]], **READ_ERRORS})
def receivers(request: HttpRequest) -> list[dict[str, str]]:
    """The enabled notification channels, as Alertmanager's receivers."""
    return [{"name": name} for name in NotificationChannel.objects.filter(enabled=True).values_list("name", flat=True)]


@router.get("/status", response={200: AlertmanagerStatus, **READ_ERRORS})
def status(request: HttpRequest) -> dict[str, Any]:
    """What Grafana's "Test" and `amtool config show` ask: no cluster, no Alertmanager configuration."""
    return {
        "cluster": {"status": "disabled", "peers": []},
        "versionInfo": {
            "version": "statusdash",
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        },
        "config": {"original": "# statusdash: rules and channels live in the hub (GET /api/rules, /api/channels)\n"},
        "uptime": STARTED,
    }
