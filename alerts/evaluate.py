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

from alerts.models import HOST_OFFLINE_RULE, SEVERITY_RANK, Alert, AlertRule, Breach, Severity
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
    loaded_at, rules = _rules_cache
    if time.monotonic() - loaded_at > RULES_TTL_SECONDS:
        rules = list(AlertRule.objects.filter(enabled=True))
        _rules_cache = (time.monotonic(), rules)
    return rules


def forget_rules(**kwargs: object) -> None:
    """post_save/post_delete receiver for AlertRule (connected in AlertsConfig.ready)."""
    global _rules_cache
    _rules_cache = (float("-inf"), [])


def evaluation_horizon() -> timedelta:
    """Reports older than this say nothing about now (a spool replayed after an outage)."""
    return timedelta(seconds=settings.REPORT_INTERVAL * settings.OFFLINE_AFTER_INTERVALS)


def evaluate_stored(sender: Any, host: Host, samples: list[MetricSample], **kwargs: Any) -> None:
    """samples_stored receiver: evaluate the rules inside the ingest transaction.

    In a savepoint, so that a broken rule never costs the data: the samples stay, the
    error is logged and counted (statusdash_alert_evaluation_failures_total in /metrics),
    never silent: a host whose rules fail is a host nobody is alerted about.
    """
    try:
        with transaction.atomic():
            evaluate_samples(host, samples)
    except Exception:
        log.exception("alert evaluation failed", extra={"host": host.name})
        record_alert_evaluation_failure()


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
