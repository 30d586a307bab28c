"""Alerts and silences in Alertmanager's v2 shapes, so `amtool` and Grafana's Alertmanager
data source can read them (served by alerts/alertmanager_api.py; docs/api.md lists where
they differ from a real Alertmanager).

Labels are Alert.labels(): alertname (the rule), severity, host, service, subject.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from alerts.models import SEVERITY_RANK, Alert, NotificationChannel, Silence, matcher_matches

# While an alert fires, endsAt is this far ahead, as Alertmanager's resolve_timeout (5m) sets it.
FIRING_ENDS_AFTER = timedelta(minutes=5)
MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"]*?))\s*$')


# The syntax MATCHER reads, for the OpenAPI document (JSON Schema's regex dialect).
MATCHER_PATTERN = r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*("([^"\\]|\\.)*"|[^"]*)\s*$'


class BadMatcher(ValueError):
    pass


def parse_matcher(text: str) -> dict[str, Any]:
    """`name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"` (quotes optional), as amtool sends them."""
    found = MATCHER.match(text)
    if found is None:
        raise BadMatcher(f'{text[:100]!r} is not a matcher like alertname="disk-full"')
    name, operator, quoted, bare = found.groups()
    value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
    matcher = {"name": name, "value": value, "isRegex": "~" in operator, "isEqual": not operator.startswith("!")}
    if matcher["isRegex"]:
        try:
            re.compile(value)
        except re.error as error:
            raise BadMatcher(f"{value[:100]!r} is not a regular expression: {error}") from None
    return matcher


def fingerprint(labels: dict[str, str]) -> str:
    canonical = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def receivers_of(alert: Alert, channels: list[NotificationChannel]) -> list[dict[str, str]]:
    """The enabled channels that would take this alert's news (as Alertmanager's receivers)."""
    wanted = []
    for channel in channels:
        if SEVERITY_RANK[alert.severity] < SEVERITY_RANK[channel.min_severity]:
            continue
        if channel.tags and not (alert.host is not None and set(channel.tags) & set(alert.host.tags or [])):
            continue
        wanted.append({"name": channel.name})
    return wanted


def gettable_alert(
    alert: Alert, silences: list[Silence], channels: list[NotificationChannel], now: datetime
) -> dict[str, Any]:
    labels = alert.labels()
    silenced_by = [str(s.pk) for s in silences if s.covers(alert)]
    annotations = {"summary": alert.describe()}
    if alert.message:
        annotations["description"] = alert.message
    if alert.last_value is not None:
        annotations["value"] = f"{alert.last_value:g}"
    if alert.is_acknowledged:
        annotations["acknowledged_by"] = alert.acknowledged_by.get_username() if alert.acknowledged_by else ""
        if alert.acknowledged_note:
            annotations["acknowledged_note"] = alert.acknowledged_note
    updated = getattr(alert, "updated_at", None) or alert.started_at
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": iso(alert.started_at),
        "endsAt": iso(alert.resolved_at or now + FIRING_ENDS_AFTER),
        "updatedAt": iso(updated),
        "fingerprint": fingerprint(labels),
        "receivers": receivers_of(alert, channels),
        "status": {"state": "suppressed" if silenced_by else "active", "silencedBy": silenced_by, "inhibitedBy": []},
        "generatorURL": f"{settings.PUBLIC_URL}/alerts/?alert={alert.pk}",
    }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def matchers_of(silence: Silence) -> list[dict[str, Any]]:
    """A silence as Alertmanager matchers (ANDed). Ours ORs hosts, tags and services; a silence
    that mixes those kinds shows the first kind's matcher only (docs/api.md)."""
    hosts = sorted({h.name for h in silence.covered_hosts()}) if (silence.tags or silence.hosts.exists()) else []
    scope: list[dict[str, Any]] = []
    if hosts:
        scope = [regex_of("host", hosts)]
    elif silence.services:
        scope = [regex_of("service", silence.services)]
    elif silence.hub:
        scope = [{"name": "host", "value": "", "isRegex": False, "isEqual": True}]
        scope.append({"name": "service", "value": "", "isRegex": False, "isEqual": True})
    rules = [regex_of("alertname", silence.rules)] if silence.rules else []
    given = [{**m, "isEqual": m.get("isEqual", True), "isRegex": m.get("isRegex", False)} for m in silence.matchers]
    return scope + rules + given or [{"name": "alertname", "value": "^$", "isRegex": True, "isEqual": True}]


def regex_of(name: str, values: list[str]) -> dict[str, Any]:
    if len(values) == 1:
        return {"name": name, "value": values[0], "isRegex": False, "isEqual": True}
    return {"name": name, "value": "|".join(re.escape(v) for v in values), "isRegex": True, "isEqual": True}


def gettable_silence(silence: Silence, now: datetime) -> dict[str, Any]:
    if silence.is_active(now):
        state = "active"
    elif silence.starts_at > now:
        state = "pending"
    else:
        state = "expired"
    return {
        "id": str(silence.pk),
        "status": {"state": state},
        "updatedAt": iso(silence.created_at),
        "matchers": matchers_of(silence),
        "startsAt": iso(silence.starts_at),
        "endsAt": iso(silence.ends_at),
        "createdBy": silence.created_by.get_username() if silence.created_by else "system",
        "comment": silence.reason,
    }


def matches_all(alert: Alert, matchers: list[dict[str, Any]]) -> bool:
    labels = alert.labels()
    return all(matcher_matches(m, labels) for m in matchers)
