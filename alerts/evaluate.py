"""Threshold rules: evaluated on ingest, with the duration ("for 5 minutes") finished by the sweep.

A value at or above a rule's warning level opens a `Breach`; once it has lasted
the rule's duration the alert fires. A firing alert resolves only when the value
falls below the clear level (hysteresis), so a value hovering at the line does
not flap.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import HOST_OFFLINE_RULE, SEVERITY_RANK, Alert, AlertRule, AlertState, Breach, Severity
from alerts.rules import describe_reading, readings
from hosts.models import Host
from metrics.models import MetricSample
from statusdash.lib.observability import record_alert_evaluation_failure

log = logging.getLogger(__name__)

# Every report reads the rules, so this process keeps them a few seconds; saving or
# deleting a rule clears the copy at once (the admin runs in this web process).
RULES_TTL_SECONDS = 5.0
_rules_cache: tuple[float, list[AlertRule]] = (float("-inf"), [])


def enabled_rules() -> list[AlertRule]:
    global _rules_cache
    rules = remembered_rules()
    if rules is None:
        rules = list(AlertRule.objects.filter(enabled=True))
        _rules_cache = (time.monotonic(), rules)
    return rules


def remembered_rules() -> list[AlertRule] | None:
    """The enabled rules if this process has a fresh copy, else None (without reading them)."""
    loaded_at, rules = _rules_cache
    return rules if time.monotonic() - loaded_at <= RULES_TTL_SECONDS else None


def forget_rules(**kwargs: object) -> None:
    """post_save/post_delete receiver for AlertRule (connected in AlertsConfig.ready)."""
    global _rules_cache
    _rules_cache = (float("-inf"), [])


def evaluation_horizon() -> timedelta:
    """Reports older than this say nothing about now (a spool replayed after an outage)."""
    return timedelta(seconds=settings.REPORT_INTERVAL * settings.OFFLINE_AFTER_INTERVALS)


# Asked with every report, in its own statement (metrics.signals.ask_with_each_report): has
# the host a firing alert or a pending breach? Registered in AlertsConfig.ready().
OPEN_ON_HOST = "alerts.open_on_host"


def open_on_host_sql() -> str:
    """OPEN_ON_HOST as SQL over the host's row, for PostgreSQL and SQLite alike (both index
    alerts by host and state, breaches by host)."""
    host = f'"{Host._meta.db_table}"."id"'
    alert, breach = Alert._meta.db_table, Breach._meta.db_table
    # Only our models' table names and a constant go into the text.
    return (
        f'EXISTS (SELECT 1 FROM "{alert}" WHERE "{alert}"."host_id" = {host}'  # noqa: S608
        f' AND "{alert}"."state" = \'{AlertState.FIRING.value}\')'
        f' OR EXISTS (SELECT 1 FROM "{breach}" WHERE "{breach}"."host_id" = {host})'
    )


def evaluate_stored(
    sender: Any, host: Host, samples: list[MetricSample], facts: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    """samples_stored receiver: evaluate the rules inside the ingest transaction.

    In a savepoint, so that a broken rule never costs the data: the samples stay, the
    error is logged and counted (statusdash_alert_evaluation_failures_total in /metrics),
    never silent: a host whose rules fail is a host nobody is alerted about.

    Most reports change nothing: when the report's statement found nothing open on the host
    (`facts`, OPEN_ON_HOST) and no rule is crossed by the newest sample, there is no alert to
    resolve, no breach to end and none to open, so nothing is read, and no savepoint taken.
    """
    try:
        if changes_nothing(host, samples, facts or {}):
            return
        with transaction.atomic():
            evaluate_samples(host, samples)
    except Exception:
        log.exception("alert evaluation failed", extra={"host": host.name})
        record_alert_evaluation_failure()


def changes_nothing(host: Host, samples: list[MetricSample], facts: dict[str, Any]) -> bool:
    """True when evaluating these samples could neither open, move nor close anything, known
    without reading the database: the newest is too old to say anything about now, or the host
    had no firing alert and no breach when its report was stored and no enabled rule is crossed.
    False when unsure (the fact not asked, the rules not in memory).

    The fact is as of the report's statement's snapshot. A report of the same host committing
    in between (it held the host's row, which the statement waited for) may have opened
    something this one does not see: skipping is then what evaluating this report first would
    have done (nothing, with nothing open), an order two reports in flight at once may take.
    A report that finds something open reads afresh and evaluates as ever.
    """
    if not samples:
        return True
    newest = max(samples, key=lambda s: s.collected_at)
    if timezone.now() - newest.collected_at > evaluation_horizon():
        return True
    rules = remembered_rules()
    if facts.get(OPEN_ON_HOST, True) or rules is None:
        return False
    return not any(
        rule.severity_for(value) is not None
        for rule in rules
        if rule.applies_to(host)
        for subject, value in readings(rule.metric, newest, host.cpu_count)
        if not rule.subject or subject == rule.subject
    )


def evaluate_samples(host: Host, samples: list[MetricSample]) -> None:
    """Evaluate every enabled rule in the host's scope against its newest stored sample."""
    if not samples:
        return
    now = timezone.now()
    newest = max(samples, key=lambda s: s.collected_at)
    if now - newest.collected_at > evaluation_horizon():
        return
    firing = {(a.rule, a.subject): a for a in Alert.objects.firing().filter(host=host)}
    if (HOST_OFFLINE_RULE, "") in firing:
        Alert.objects.resolve(HOST_OFFLINE_RULE, host=host)
    breaches = {(b.rule_id, b.subject): b for b in Breach.objects.filter(host=host)}
    for rule in enabled_rules():
        if not rule.applies_to(host):
            continue
        for subject, value in readings(rule.metric, newest, host.cpu_count):
            if rule.subject and subject != rule.subject:
                continue
            evaluate(
                rule, host, subject, value, now, firing.get((rule.name, subject)), breaches.get((rule.pk, subject))
            )


def evaluate(
    rule: AlertRule,
    host: Host,
    subject: str,
    value: float,
    now: datetime,
    alert: Alert | None,
    breach: Breach | None,
) -> None:
    severity = rule.severity_for(value)
    if severity is None:
        if breach is not None:
            breach.delete()
        if alert is not None and value < rule.effective_clear_level:
            Alert.objects.resolve(rule.name, host=host, subject=subject, value=value)
        return
    if alert is not None:
        # While firing, severity only rises: a value hovering at the critical level
        # must not send "critical", "warning", "critical" again and again.
        fire(rule, host, subject, max(severity, alert.severity, key=SEVERITY_RANK.__getitem__), value)
        return
    if breach is None:
        breach = Breach(rule=rule, host=host, subject=subject, since=now)
    breach.severity, breach.value, breach.updated_at = severity, value, now
    if breach.is_due(now):
        fire(rule, host, subject, severity, value)
        if breach.pk:
            breach.delete()
    else:
        breach.save()


def fire(rule: AlertRule, host: Host, subject: str, severity: str, value: float) -> None:
    level = rule.critical_level if severity == Severity.CRITICAL else rule.warning_level
    message = describe_reading(rule.metric, subject, value, level or rule.warning_level)
    Alert.objects.fire(rule.name, host=host, subject=subject, severity=severity, message=message, value=value)


def promote_due_breaches(now: datetime) -> int:
    """Fire breaches that have lasted their rule's duration; drop those whose host went quiet."""
    fired = 0
    quiet_before = now - evaluation_horizon()
    for breach in Breach.objects.select_related("rule", "host"):
        if breach.updated_at < quiet_before or not breach.rule.enabled:
            breach.delete()
        elif breach.is_due(now):
            # fire() is idempotent (one firing alert per key), so two sweeps doing this at once are harmless.
            fire(breach.rule, breach.host, breach.subject, breach.severity, breach.value)
            breach.delete()
            fired += 1
    return fired


def check_offline(now: datetime) -> None:
    """Fire host_offline for enabled hosts silent for OFFLINE_AFTER_INTERVALS reports; resolve the rest."""
    silent_for = timedelta(seconds=settings.REPORT_INTERVAL * settings.OFFLINE_AFTER_INTERVALS)
    offline = {h.pk: h for h in Host.objects.enabled().filter(last_seen__isnull=False, last_seen__lt=now - silent_for)}
    already = set(Alert.objects.firing().filter(rule=HOST_OFFLINE_RULE).values_list("host_id", flat=True))
    for host_id, host in offline.items():
        if host_id not in already:
            minutes = (now - host.last_seen).total_seconds() / 60  # type: ignore[operator]
            Alert.objects.fire(
                HOST_OFFLINE_RULE,
                host=host,
                severity=Severity.CRITICAL,
                message=f"{host.label} has not reported for {minutes:.0f} min",
            )
    for host in Host.objects.filter(pk__in=already - set(offline)):
        Alert.objects.resolve(HOST_OFFLINE_RULE, host=host)
