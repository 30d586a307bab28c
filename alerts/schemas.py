"""What the alert routes take and answer (/api/alerts, /api/silences, /api/rules, /api/channels).

Outputs are built by the `shown_*` functions from rows, so a list, a read, a retried create
(audit/idempotency.py) and an ETag (statusdash/lib/etags.py) all see the same JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from alerts.models import (
    LABEL_NAMES,
    RULE_NAME_MAX_LENGTH,
    SERVICE_NAME_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    Alert,
    AlertRule,
    AlertTransition,
    Metric,
    NotificationChannel,
    Severity,
    Silence,
)
from statusdash.lib.cursor import PageQuery
from statusdash.lib.schemas import IsoTime

NAME = Field(None, max_length=100)


class AlertFilters(PageQuery):
    state: Literal["firing", "acknowledged", "resolved"] | None = Field(
        None, description="`acknowledged`: firing and acknowledged; `firing`: every firing alert."
    )
    severity: Severity | None = None
    host: str | None = Field(None, max_length=63, description="A host's name.")
    service: str | None = Field(None, max_length=SERVICE_NAME_MAX_LENGTH)
    rule: str | None = Field(None, max_length=RULE_NAME_MAX_LENGTH)
    since: IsoTime | None = Field(None, description="Started at or after (ISO 8601 with a zone).")
    until: IsoTime | None = Field(None, description="Started before.")


class AlertOut(Schema):
    id: int
    state: Literal["firing", "resolved"]
    severity: Severity
    host: str | None = Field(description="The host's name, if the alert is about a host.")
    service: str | None
    rule: str | None
    subject: str
    summary: str
    started_at: datetime
    resolved_at: datetime | None
    peak_value: float | None
    last_value: float | None
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledged_note: str
    silenced_by: list[int] = Field(description="Active silences that hold its notifications back.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": 42,
                    "state": "firing",
                    "severity": "critical",
                    "host": "web-1",
                    "service": None,
                    "rule": "disk-full",
                    "subject": "/var",
                    "summary": "[CRITICAL] Web 1: disk-full /var (96.5)",
                    "started_at": "2026-12-03T18:00:00Z",
                    "resolved_at": None,
                    "peak_value": 96.5,
                    "last_value": 96.5,
                    "acknowledged": True,
                    "acknowledged_by": "alice",
                    "acknowledged_at": "2026-12-03T18:05:00Z",
                    "acknowledged_note": "cleaning up old logs",
                    "silenced_by": [],
                }
            ]
        }
    }


class TransitionOut(Schema):
    kind: str
    old_state: str
    new_state: str
    severity: Severity
    value: float | None
    created_at: datetime
    outcome: str = Field(description="notified, silenced, acknowledged, no_channel, or empty while pending.")


class AlertDetailOut(AlertOut):
    transitions: list[TransitionOut] = Field(description="Oldest first.")


class AlertPage(Schema):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class AcknowledgeIn(Schema):
    note: str = Field("", max_length=500, examples=["looking into it, deploy rolled back"])


def shown_alert(alert: Alert, silence_ids: list[int]) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "state": alert.state,
        "severity": alert.severity,
        "host": alert.host.name if alert.host is not None else None,
        "service": alert.service or None,
        "rule": alert.rule or None,
        "subject": alert.subject,
        "summary": alert.describe(),
        "started_at": alert.started_at,
        "resolved_at": alert.resolved_at,
        "peak_value": alert.peak_value,
        "last_value": alert.last_value,
        "acknowledged": alert.is_acknowledged,
        "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by else None,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_note": alert.acknowledged_note,
        "silenced_by": silence_ids,
    }


def shown_transition(transition: AlertTransition) -> dict[str, Any]:
    return {
        "kind": transition.kind,
        "old_state": transition.old_state,
        "new_state": transition.new_state,
        "severity": transition.severity,
        "value": transition.value,
        "created_at": transition.created_at,
        "outcome": transition.outcome,
    }


# --- silences ---------------------------------------------------------------


class MatcherIn(Schema):
    """Alertmanager's matcher: labels are alertname (the rule), severity, host, service, subject."""

    name: Literal[LABEL_NAMES]  # type: ignore[valid-type]
    value: str = Field(max_length=200)
    isRegex: bool = False
    isEqual: bool = True


class SilenceIn(Schema):
    """What to silence (at least one of host, tag, service, rule, matchers, hub), from when, until when, why.

    Given together, host/tag/service say which alerts (any of them), and rule and matchers
    narrow them down: `{"host": "web-1", "rule": "cpu-high"}` silences that rule on web-1 only.
    """

    host: str | None = Field(None, max_length=63, examples=["web-1"])
    tag: str | None = Field(None, max_length=40)
    service: str | None = Field(None, max_length=SERVICE_NAME_MAX_LENGTH)
    rule: str | None = Field(None, max_length=RULE_NAME_MAX_LENGTH)
    matchers: list[MatcherIn] | None = Field(None, max_length=20)
    hub: bool = Field(False, description="Also the hub's own alerts (about no host or service).")
    starts_at: IsoTime | None = Field(None, description="Default: now.")
    ends_at: IsoTime | None = Field(None, description="Give this or duration_seconds.")
    duration_seconds: int | None = Field(None, ge=1, le=366 * 86400, examples=[1800])
    reason: str = Field(min_length=1, max_length=200, examples=["deploy"])

    model_config = {
        "json_schema_extra": {"examples": [{"host": "web-1", "duration_seconds": 1800, "reason": "deploy"}]}
    }


class SilencePatch(Schema):
    ends_at: IsoTime | None = Field(None, description="A new end (later to extend); it must be in the future.")
    reason: str | None = Field(None, min_length=1, max_length=200)


class SilenceOut(Schema):
    id: int
    hosts: list[str]
    tags: list[str]
    services: list[str]
    rules: list[str]
    matchers: list[dict[str, Any]]
    hub: bool
    scope: str = Field(description="What it covers, in words.")
    starts_at: datetime
    ends_at: datetime
    active: bool
    reason: str
    created_by: str | None
    created_at: datetime

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": 7,
                    "hosts": ["web-1"],
                    "tags": [],
                    "services": [],
                    "rules": [],
                    "matchers": [],
                    "hub": False,
                    "scope": "web-1",
                    "starts_at": "2026-12-03T18:00:00Z",
                    "ends_at": "2026-12-03T18:30:00Z",
                    "active": True,
                    "reason": "deploy",
                    "created_by": "deploy-bot",
                    "created_at": "2026-12-03T18:00:00Z",
                }
            ]
        }
    }


class SilenceFilters(PageQuery):
    active: bool | None = Field(None, description="true: only those in force now; false: only ended or future ones.")


class SilencePage(Schema):
    items: list[SilenceOut]
    next_cursor: str | None


def shown_silence(silence: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": silence.pk,
        "hosts": sorted(host.name for host in silence.hosts.all()),
        "tags": list(silence.tags or []),
        "services": list(silence.services or []),
        "rules": list(silence.rules or []),
        "matchers": list(silence.matchers or []),
        "hub": silence.hub,
        "scope": silence.scope(),
        "starts_at": silence.starts_at,
        "ends_at": silence.ends_at,
        "active": silence.is_active(now),
        "reason": silence.reason,
        "created_by": silence.created_by.get_username() if silence.created_by else None,
        "created_at": silence.created_at,
    }


# --- rules ------------------------------------------------------------------


class RuleIn(Schema):
    name: str = Field(max_length=100, pattern=r"^[-a-zA-Z0-9_]+$", examples=["disk-full"])
    metric: Metric
    warning_level: float = Field(examples=[85])
    critical_level: float | None = Field(None, examples=[95])
    clear_level: float | None = None
    duration_seconds: int = Field(0, ge=0, le=7 * 86400)
    host: str | None = Field(None, max_length=63, description="Only this host (its name). Null: all hosts.")
    tag: str = Field("", max_length=40)
    subject: str = Field("", max_length=SUBJECT_MAX_LENGTH, description="A mount or sensor (disk, temperature).")
    enabled: bool = True


class RulePatch(Schema):
    """Only the fields given change (`host: null` makes the rule apply to all hosts)."""

    name: str | None = Field(None, max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")
    metric: Metric | None = None
    warning_level: float | None = None
    critical_level: float | None = None
    clear_level: float | None = None
    duration_seconds: int | None = Field(None, ge=0, le=7 * 86400)
    host: str | None = Field(None, max_length=63)
    tag: str | None = Field(None, max_length=40)
    subject: str | None = Field(None, max_length=SUBJECT_MAX_LENGTH)
    enabled: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    metric: Metric
    warning_level: float
    critical_level: float | None
    clear_level: float | None
    duration_seconds: int
    host: str | None
    tag: str
    subject: str
    enabled: bool


class RulePage(Schema):
    items: list[RuleOut]
    next_cursor: str | None


def shown_rule(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "metric": rule.metric,
        "warning_level": rule.warning_level,
        "critical_level": rule.critical_level,
        "clear_level": rule.clear_level,
        "duration_seconds": rule.duration_seconds,
        "host": rule.host.name if rule.host is not None else None,
        "tag": rule.tag,
        "subject": rule.subject,
        "enabled": rule.enabled,
    }


# --- channels ---------------------------------------------------------------


class ChannelIn(Schema):
    name: str = Field(max_length=100, examples=["ops-ntfy"])
    url: str = Field(
        max_length=1000,
        description="An Apprise URL (holds secrets: never shown back).",
        examples=["ntfys://ntfy.sh/ops"],
    )
    min_severity: Severity = Severity.WARNING
    tags: list[str] = Field(default_factory=list, max_length=50)
    send_resolved: bool = True
    enabled: bool = True


class ChannelPatch(Schema):
    name: str | None = Field(None, max_length=100)
    url: str | None = Field(None, max_length=1000)
    min_severity: Severity | None = None
    tags: list[str] | None = Field(None, max_length=50)
    send_resolved: bool | None = None
    enabled: bool | None = None


class ChannelOut(Schema):
    id: int
    name: str
    scheme: str = Field(description="The Apprise URL's scheme (ntfys, mailto, ...); the URL itself holds secrets.")
    min_severity: Severity
    tags: list[str]
    send_resolved: bool
    enabled: bool


class ChannelPage(Schema):
    items: list[ChannelOut]
    next_cursor: str | None


class ChannelTestOut(Schema):
    sent: bool
    error: str = Field(description="Why it failed, as the channel answered; empty when sent.")


def shown_channel(channel: NotificationChannel) -> dict[str, Any]:
    return {
        "id": channel.pk,
        "name": channel.name,
        "scheme": channel.url.split("://", 1)[0] if "://" in channel.url else "",
        "min_severity": channel.min_severity,
        "tags": list(channel.tags or []),
        "send_resolved": channel.send_resolved,
        "enabled": channel.enabled,
    }
