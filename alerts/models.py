"""Alerts as rows: rules, alerts, every transition, silences, channels and the notifications owed.

Detection and notification are separate steps (as healthchecks does with Flip):
`Alert.objects.fire()` / `.resolve()` record an `AlertTransition`; the dispatch
sweep later turns unprocessed transitions into `Notification`s, one per channel
for everything that changed within the grouping window. Sending them (Apprise,
leases, attempts, retries) is `alerts.delivery`'s.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import apprise
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts import events
from audit import trail as audit_trail
from audit.models import AuditAction as TrailAction
from hosts.models import Host, validate_tags
from metrics.schemas import MOUNT_MAX_LENGTH, SENSOR_MAX_LENGTH


class AlertState(models.TextChoices):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(models.TextChoices):
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_RANK: dict[str, int] = {Severity.WARNING: 1, Severity.CRITICAL: 2}


class Metric(models.TextChoices):
    CPU = "cpu", "CPU %"
    MEMORY = "memory", "memory %"
    SWAP = "swap", "swap %"
    LOAD = "load", "load (5 min) per core"
    DISK = "disk", "disk % per mount"
    NETWORK_IN = "network_in", "network in, Mbit/s"
    NETWORK_OUT = "network_out", "network out, Mbit/s"
    TEMPERATURE = "temperature", "temperature °C per sensor"


# Rule names the hub raises itself (not AlertRule rows).
HOST_OFFLINE_RULE = "host_offline"
# An alert's subject is a mount or a sensor as the agent reports it: whatever a report may
# carry must fit, or a long mount path would fail the alert (PostgreSQL enforces lengths).
SUBJECT_MAX_LENGTH = max(MOUNT_MAX_LENGTH, SENSOR_MAX_LENGTH)

# A service's name as its events carry it (serviceName); services/schemas.py checks events against it.
SERVICE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
SERVICE_NAME_MAX_LENGTH = 80


def validate_service_names(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError('Services must be a list of service names, e.g. ["billing-api"].')
    for name in value:
        if len(name) > SERVICE_NAME_MAX_LENGTH or not re.match(SERVICE_NAME_PATTERN, name):
            raise ValidationError(
                f"{name!r} is not a service name (letters, digits, '.', '_' and '-', at most "
                f"{SERVICE_NAME_MAX_LENGTH} characters, as its events send it)."
            )


class AlertRule(models.Model):
    """A threshold on one metric, evaluated on every report of the hosts in scope."""

    name = models.SlugField(
        max_length=100, unique=True, help_text="Alerts are keyed by it; renaming starts new alerts."
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    warning_level = models.FloatField()
    critical_level = models.FloatField(null=True, blank=True, help_text="Empty: the rule only warns.")
    clear_level = models.FloatField(
        null=True,
        blank=True,
        help_text="A firing alert resolves only below this (hysteresis). Empty: the warning level.",
    )
    duration_seconds = models.PositiveIntegerField(
        default=0, help_text="Fire only after the level has been crossed this long (0: at once)."
    )
    host = models.ForeignKey(
        Host, null=True, blank=True, on_delete=models.CASCADE, help_text="Only this host. Empty: all hosts."
    )
    tag = models.CharField(max_length=40, blank=True, help_text="Only hosts with this tag. Empty: any.")
    subject = models.CharField(
        max_length=SUBJECT_MAX_LENGTH,
        blank=True,
        help_text="Only this mount or sensor (disk, temperature). Empty: all.",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.critical_level is not None and self.critical_level < self.warning_level:
            errors["critical_level"] = "The critical level must be at least the warning level."
        if self.clear_level is not None and self.clear_level > self.warning_level:
            errors["clear_level"] = "The clear level must be at most the warning level."
        if self.subject and self.metric not in (Metric.DISK, Metric.TEMPERATURE):
            errors["subject"] = "Only disk and temperature rules look at a mount or sensor."
        if errors:
            raise ValidationError(errors)

    @property
    def effective_clear_level(self) -> float:
        return self.warning_level if self.clear_level is None else self.clear_level

    def applies_to(self, host: Host) -> bool:
        if self.host_id is not None and self.host_id != host.pk:
            return False
        return not self.tag or self.tag in (host.tags or [])

    def severity_for(self, value: float) -> str | None:
        """The severity a value crosses into, or None below the warning level."""
        if self.critical_level is not None and value >= self.critical_level:
            return Severity.CRITICAL
        if value >= self.warning_level:
            return Severity.WARNING
        return None


class Breach(models.Model):
    """A rule's level crossed but not yet for its duration: the 'pending' step before firing."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="breaches")
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="breaches")
    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH, blank=True)
    since = models.DateTimeField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    value = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "host", "subject"], name="one_breach_per_subject")]

    def __str__(self) -> str:
        return f"{self.rule} {self.subject} on {self.host} since {self.since:%H:%M:%S}"

    def is_due(self, now: datetime) -> bool:
        return now - self.since >= timedelta(seconds=self.rule.duration_seconds)


class AlertQuerySet(models.QuerySet["Alert"]):
    def firing(self) -> AlertQuerySet:
        return self.filter(state=AlertState.FIRING)

    def fire(
        self,
        rule: str,
        *,
        host: Host | None = None,
        service: str = "",
        subject: str = "",
        severity: str = Severity.WARNING,
        message: str = "",
        value: float | None = None,
    ) -> Alert:
        """Open an alert for (rule, host or service, subject), or update the one already firing. Idempotent.

        An alert is about a host, or a service (by name), or neither: the hub itself.
        Opening and a change of severity are recorded as transitions (and notified);
        a new message or value alone is not.
        """
        key = {"rule": rule, "host": host, "service": service, "subject": subject}
        with transaction.atomic():
            alert = self.firing().select_for_update().filter(**key).first()
            if alert is None:
                try:
                    # The savepoint lets a concurrent fire() that won the unique constraint
                    # (one firing alert per key) be re-read instead of failing the caller.
                    with transaction.atomic():
                        alert = self.create(
                            **key,
                            severity=severity,
                            message=message,
                            peak_value=value,
                            last_value=value,
                        )
                except IntegrityError:
                    alert = self.firing().select_for_update().get(**key)
                else:
                    alert.record_transition("", AlertState.FIRING)
                    return alert
            alert.update_firing(severity, message, value)
            return alert

    def resolve(
        self,
        rule: str,
        *,
        host: Host | None = None,
        service: str = "",
        subject: str = "",
        value: float | None = None,
    ) -> Alert | None:
        """Resolve the firing alert for (rule, host or service, subject), if there is one. Idempotent."""
        with transaction.atomic():
            key = {"rule": rule, "host": host, "service": service, "subject": subject}
            alert = self.firing().select_for_update().filter(**key).first()
            if alert is None:
                return None
            alert.state, alert.resolved_at = AlertState.RESOLVED, timezone.now()
            if value is not None:
                alert.last_value = value
            alert.save(update_fields=["state", "resolved_at", "last_value"])
            alert.record_transition(AlertState.FIRING, AlertState.RESOLVED)
            return alert


class Alert(models.Model):
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    service = models.CharField(
        max_length=SERVICE_NAME_MAX_LENGTH,
        blank=True,
        help_text="The service it is about (its events' serviceName). Neither host nor service: a hub alert.",
    )
    rule = models.CharField(max_length=100)
    subject = models.CharField(
        max_length=SUBJECT_MAX_LENGTH, blank=True, help_text="What the rule looked at, e.g. a mount."
    )
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.FIRING, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    peak_value = models.FloatField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_note = models.CharField(max_length=500, blank=True, help_text="Why, or who is on it.")
    # When the last notification (first or reminder) was queued; reminders count from here.
    notified_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["host", "state"], name="alert_host_state"),
            # The hourly prune's question: which alerts were resolved before the retention cutoff?
            models.Index(fields=["resolved_at"], name="alert_resolved_at"),
        ]
        constraints = [
            # Two workers firing the same alert at once must not open it twice. Coalesce
            # makes hub alerts (no host) collide too; NULLs never do in a unique index.
            models.UniqueConstraint(
                Coalesce("host", 0),
                "service",
                "rule",
                "subject",
                condition=Q(state="firing"),
                name="one_firing_alert_per_key",
            ),
        ]

    def __str__(self) -> str:
        where = f" {self.subject}" if self.subject else ""
        return f"{self.rule}{where} on {self.about}: {self.state}"

    @property
    def about(self) -> str:
        """What the alert is about, in words: the host, the service, or the hub."""
        if self.host is not None:
            return self.host.label
        return f"service {self.service}" if self.service else "hub"

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def update_firing(self, severity: str, message: str, value: float | None) -> None:
        old_severity = self.severity
        self.severity, self.message = severity, message
        if value is not None:
            self.last_value = value
            self.peak_value = value if self.peak_value is None else max(self.peak_value, value)
        self.save(update_fields=["severity", "message", "last_value", "peak_value"])
        if severity != old_severity:
            self.record_transition(AlertState.FIRING, AlertState.FIRING, kind=TransitionKind.SEVERITY)

    def record_transition(self, old_state: str, new_state: str, kind: str = "") -> AlertTransition:
        kind = kind or (TransitionKind.TRIGGERED if new_state == AlertState.FIRING else TransitionKind.RESOLVED)
        transition = AlertTransition.objects.create(
            alert=self,
            old_state=old_state,
            new_state=new_state,
            kind=kind,
            severity=self.severity,
            value=self.last_value,
        )
        events.transition_recorded(transition)
        return transition

    def acknowledge(self, user: Any, note: str = "") -> bool:
        """Stop reminders for this alert. False when it was already acknowledged or is resolved."""
        now = timezone.now()
        # Conditional update: two people clicking at once record one acknowledgement.
        claimed = Alert.objects.filter(pk=self.pk, state=AlertState.FIRING, acknowledged_at=None).update(
            acknowledged_at=now, acknowledged_by=user, acknowledged_note=note
        )
        self.refresh_from_db()
        if claimed:
            AuditEntry.record(user, AuditAction.ACKNOWLEDGE, alert=self, detail=note)
            audit_trail.record(user, TrailAction.ACKNOWLEDGED, self)
            events.alert_changed(self)
        return bool(claimed)

    def unacknowledge(self, user: Any) -> bool:
        cleared = (
            Alert.objects.filter(pk=self.pk)
            .exclude(acknowledged_at=None)
            .update(acknowledged_at=None, acknowledged_by=None, acknowledged_note="")
        )
        self.refresh_from_db()
        if cleared:
            AuditEntry.record(user, AuditAction.UNACKNOWLEDGE, alert=self)
            audit_trail.record(user, TrailAction.UNACKNOWLEDGED, self)
            events.alert_changed(self)
        return bool(cleared)

    def deliveries(self) -> models.QuerySet[Notification]:
        """The delivery log: every notification that carried one of this alert's transitions."""
        return Notification.objects.filter(transitions__alert=self).distinct().select_related("channel")

    def active_silence(self, now: datetime | None = None) -> Silence | None:
        return next((s for s in Silence.objects.active(now) if s.covers(self)), None)

    def labels(self) -> dict[str, str]:
        """The alert as Alertmanager-style labels: what silence matchers and the v2 API see."""
        labels = {"alertname": self.rule, "severity": self.severity}
        if self.host is not None:
            labels["host"] = self.host.name
        if self.service:
            labels["service"] = self.service
        if self.subject:
            labels["subject"] = self.subject
        return labels

    def describe(self) -> str:
        """One line for a notification: what, where, how much."""
        subject = f" {self.subject}" if self.subject else ""
        value = f" ({self.last_value:g})" if self.last_value is not None else ""
        text = self.message or f"{self.rule}{subject}"
        return f"[{self.severity.upper()}] {self.about}: {text}{value}"


class TransitionKind(models.TextChoices):
    TRIGGERED = "triggered"
    SEVERITY = "severity", "severity changed"
    RESOLVED = "resolved"
    REMINDER = "reminder", "still firing (reminder)"


class Outcome(models.TextChoices):
    NOTIFIED = "notified"
    SILENCED = "silenced"
    ACKNOWLEDGED = "acknowledged", "acknowledged (reminder skipped)"
    NO_CHANNEL = "no_channel", "no matching channel"


class AlertTransitionQuerySet(models.QuerySet["AlertTransition"]):
    def unprocessed(self) -> AlertTransitionQuerySet:
        return self.filter(processed_at=None)

    def claim_batch(self, now: datetime, window: timedelta) -> list[AlertTransition]:
        """Take every unprocessed transition once the oldest has waited out the grouping window.

        The conditional update is the claim: two dispatchers running at once each get
        a disjoint set (usually one gets all and the other none).
        """
        oldest = self.unprocessed().order_by("created_at").values_list("created_at", flat=True).first()
        if oldest is None or now - oldest < window:
            return []
        batch = uuid.uuid4()
        ids = list(self.unprocessed().filter(created_at__lte=now).values_list("id", flat=True))
        self.filter(id__in=ids, processed_at=None).update(processed_at=now, batch=batch)
        return list(self.filter(batch=batch).select_related("alert__host").order_by("created_at"))


class AlertTransition(models.Model):
    """One change of an alert. The history, and the queue of what to notify."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="transitions")
    old_state = models.CharField(max_length=10, blank=True)
    new_state = models.CharField(max_length=10)
    kind = models.CharField(max_length=10, choices=TransitionKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    value = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    batch = models.UUIDField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=15, choices=Outcome.choices, blank=True)

    objects = AlertTransitionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The dispatch sweep's every-10-seconds question: is anything waiting?
            models.Index(fields=["processed_at", "created_at"], name="transition_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.alert}: {self.old_state or 'new'} → {self.new_state} ({self.kind})"

    def line(self) -> str:
        prefixes: dict[str, str] = {
            TransitionKind.RESOLVED: "RESOLVED",
            TransitionKind.REMINDER: "STILL FIRING",
            TransitionKind.SEVERITY: "NOW",
        }
        prefix = prefixes.get(self.kind, "FIRING")
        return f"{prefix} {self.alert.describe()}"


# Label names an alert has (Alert.labels()): the names a silence matcher may use.
LABEL_NAMES = ("alertname", "severity", "host", "service", "subject")
MATCHER_MAX_VALUE = 200


def validate_matchers(value: Any) -> None:
    """Alertmanager's matcher shape: [{"name": "host", "value": "web-.*", "isRegex": true, "isEqual": true}]."""
    if not isinstance(value, list):
        raise ValidationError("Matchers must be a list of {name, value, isRegex, isEqual}.")
    for matcher in value:
        if not isinstance(matcher, dict) or set(matcher) - {"name", "value", "isRegex", "isEqual"}:
            raise ValidationError("Each matcher is {name, value, isRegex, isEqual} and nothing else.")
        if matcher.get("name") not in LABEL_NAMES:
            raise ValidationError(f"A matcher's name is one of {', '.join(LABEL_NAMES)}.")
        if not isinstance(matcher.get("value"), str) or len(matcher["value"]) > MATCHER_MAX_VALUE:
            raise ValidationError(f"A matcher's value is a string of at most {MATCHER_MAX_VALUE} characters.")
        if not isinstance(matcher.get("isRegex", False), bool) or not isinstance(matcher.get("isEqual", True), bool):
            raise ValidationError("isRegex and isEqual are true or false.")
        if matcher.get("isRegex"):
            try:
                re.compile(matcher["value"])
            except re.error as error:
                raise ValidationError(f"{matcher['value']!r} is not a regular expression: {error}.") from None


RULE_NAME_MAX_LENGTH = 100  # Alert.rule's


def validate_rule_names(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(name, str) and name for name in value):
        raise ValidationError('Rules must be a list of rule names, e.g. ["disk-full"].')
    for name in value:
        if len(name) > RULE_NAME_MAX_LENGTH or any(c.isspace() or not c.isprintable() for c in name):
            raise ValidationError(f"{name[:40]!r} is not a rule name (no spaces, at most {RULE_NAME_MAX_LENGTH}).")


def describe_matcher(matcher: dict[str, Any]) -> str:
    if matcher.get("isEqual", True):
        operator = "=~" if matcher.get("isRegex") else "="
    else:
        operator = "!~" if matcher.get("isRegex") else "!="
    return f"{matcher['name']}{operator}{matcher['value']!r}"


def matcher_matches(matcher: dict[str, Any], labels: dict[str, str]) -> bool:
    """As Alertmanager matches: regexes are anchored; a missing label is the empty string."""
    value = labels.get(matcher["name"], "")
    regex = matcher.get("isRegex")
    matched = re.fullmatch(matcher["value"], value) is not None if regex else value == matcher["value"]
    return matched if matcher.get("isEqual", True) else not matched


class SilenceQuerySet(models.QuerySet["Silence"]):
    def active(self, now: datetime | None = None) -> SilenceQuerySet:
        now = now or timezone.now()
        return self.filter(starts_at__lte=now, ends_at__gt=now).prefetch_related("hosts")

    def cover(self, alert: Alert, *, starts_at: datetime, ends_at: datetime, reason: str, created_by: Any) -> Silence:
        """A silence of what `alert` is about: its host, its service, or the hub's alerts."""
        with transaction.atomic():
            silence = self.create(
                starts_at=starts_at,
                ends_at=ends_at,
                reason=reason,
                created_by=created_by,
                services=[alert.service] if alert.host_id is None and alert.service else [],
                hub=alert.host_id is None and not alert.service,
            )
            if alert.host_id is not None:
                silence.hosts.add(alert.host_id)
        return silence


class Silence(models.Model):
    """A maintenance window: notifications for the alerts it covers are held back.

    It covers alerts about its hosts and hosts with its tags, about its services (by
    name), and, if `hub` is set, the hub's own alerts (about neither a host nor a service).
    `rules` and `matchers` narrow that down (a rule on a host), or alone cover any alert of
    those rules or with those labels. Alerts still fire and resolve and their history is
    kept; only notifications stop. A silence with none of these covers nothing.
    """

    hosts = models.ManyToManyField(Host, blank=True, related_name="silences")
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags], help_text='e.g. ["rack-2"]')
    services = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_service_names],
        help_text='Services by the name their events carry, e.g. ["billing-api"].',
    )
    hub = models.BooleanField(
        default=False, verbose_name="hub alerts", help_text="Also the hub's own alerts (about no host or service)."
    )
    rules = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_rule_names],
        help_text='Only alerts of these rules, e.g. ["disk-full"]. Empty: any rule.',
    )
    matchers = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_matchers],
        help_text='Only alerts whose labels match all of these, as Alertmanager\'s: [{"name": "host", '
        '"value": "web-.*", "isRegex": true, "isEqual": true}]. Empty: any.',
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"{self.reason} (until {self.ends_at:%Y-%m-%d %H:%M} UTC)"

    def clean(self) -> None:
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "A silence must end after it starts."})

    def covers(self, alert: Alert) -> bool:
        # An unsaved silence (one being drafted) has no hosts yet, and cannot ask for them.
        hosts = list(self.hosts.all()) if self.pk is not None else []
        scoped = bool(hosts or self.tags or self.services or self.hub)
        if not (scoped or self.rules or self.matchers):
            return False
        if self.rules and alert.rule not in self.rules:
            return False
        if self.matchers and not all(matcher_matches(m, alert.labels()) for m in self.matchers):
            return False
        if not scoped:
            return True
        if alert.host is not None:
            if any(h.pk == alert.host_id for h in hosts):
                return True
            return bool(set(self.tags or []) & set(alert.host.tags or []))
        if alert.service:
            return alert.service in (self.services or [])
        return self.hub

    def scope(self) -> str:
        """What it covers, in words (the admin's list)."""
        parts = [
            *(host.name for host in self.hosts.all()),
            *(f"tag {tag}" for tag in self.tags or []),
            *(f"service {name}" for name in self.services or []),
            *(["hub alerts"] if self.hub else []),
        ]
        narrowing = [
            *(f"rule {rule}" for rule in self.rules or []),
            *(describe_matcher(m) for m in self.matchers or []),
        ]
        if narrowing:
            return f"{', '.join(parts) or 'any alert'}: {', '.join(narrowing)}"
        return ", ".join(parts) or "nothing"

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.starts_at <= now < self.ends_at

    def covered_hosts(self) -> set[Host]:
        if not (self.hosts.exists() or self.tags or self.services or self.hub):
            # A silence by rule or matcher alone may cover any host.
            return set(Host.objects.all()) if self.rules or self.matchers else set()
        tags = set(self.tags or [])
        tagged = [h for h in Host.objects.all() if tags & set(h.tags or [])] if tags else []
        return {*self.hosts.all(), *tagged}

    def end(self, user: Any) -> None:
        now = timezone.now()
        if self.ends_at > now:
            self.ends_at = max(now, self.starts_at)
            self.save(update_fields=["ends_at"])
            AuditEntry.record(user, AuditAction.END_SILENCE, silence=self)


class NotificationChannel(models.Model):
    """Where notifications go: one Apprise URL (mailto://, slack://, ntfy://, json://, ...)."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(
        max_length=1000, help_text="An Apprise URL, e.g. ntfys://ntfy.sh/my-topic (holds secrets: not shown in lists)."
    )
    min_severity = models.CharField(
        max_length=10, choices=Severity.choices, default=Severity.WARNING, help_text="Send alerts at least this severe."
    )
    tags = models.JSONField(
        default=list, blank=True, validators=[validate_tags], help_text="Only hosts with one of these tags. Empty: all."
    )
    send_resolved = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.url and not apprise.Apprise().add(self.url):
            raise ValidationError({"url": "Apprise does not understand this URL (see docs/alerting.md)."})

    def wants(self, transition: AlertTransition) -> bool:
        alert = transition.alert
        if SEVERITY_RANK[transition.severity] < SEVERITY_RANK[self.min_severity]:
            return False
        if transition.kind == TransitionKind.RESOLVED and not self.send_resolved:
            return False
        if not self.tags:
            return True
        return alert.host is not None and bool(set(self.tags) & set(alert.host.tags or []))


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def compose(self, channel: NotificationChannel, transitions: list[AlertTransition]) -> Notification:
        """One pending message to `channel` listing `transitions`, not yet leased to a task."""
        firing = sum(t.kind != TransitionKind.RESOLVED for t in transitions)
        resolved = len(transitions) - firing
        if len(transitions) == 1:
            title = transitions[0].line()
        else:
            parts = [f"{firing} firing" if firing else "", f"{resolved} resolved" if resolved else ""]
            title = "statusdash: " + ", ".join(p for p in parts if p)
        body = "\n".join(t.line() for t in transitions)
        if settings.PUBLIC_URL:
            body += f"\n\n{settings.PUBLIC_URL}/alerts/"
        worst = max((t.severity for t in transitions), key=SEVERITY_RANK.__getitem__)
        notification = self.create(channel=channel, title=title[:200], body=body, severity=worst)
        notification.transitions.set(transitions)
        return notification

    def due(self, now: datetime) -> NotificationQuerySet:
        """Pending, past its backoff, and held by no task (never leased, or the lease ran out)."""
        return self.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).filter(
            Q(claimed_until=None) | Q(claimed_until__lt=now)
        )


class Notification(models.Model):
    """One message to one channel, covering one or more transitions: the delivery log."""

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="notifications")
    transitions = models.ManyToManyField(AlertTransition, blank=True, related_name="notifications")
    title = models.CharField(max_length=200)
    body = models.TextField()
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A pending notification is sent by the task holding its claim, until claimed_until;
    # after that (the worker died) or after a failed attempt's backoff, the dispatch
    # sweep leases it to a new task. The rows are the queue; Celery only carries work.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The dispatch sweep's question every 10 seconds: is a delivery due?
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.title} ({self.status})"


def dispatch(transitions: list[AlertTransition], now: datetime) -> list[Notification]:
    """Decide, per claimed transition, who hears about it; one notification per channel.

    The caller leases the notifications (`alerts.delivery.lease_new`) in the same
    transaction, before anyone else can see them.
    """
    channels = list(NotificationChannel.objects.filter(enabled=True))
    silences = list(Silence.objects.active(now))
    per_channel: dict[int, list[AlertTransition]] = {}
    for transition in transitions:
        alert = transition.alert
        if any(s.covers(alert) for s in silences):
            transition.outcome = Outcome.SILENCED
        elif transition.kind == TransitionKind.REMINDER and alert.is_acknowledged:
            transition.outcome = Outcome.ACKNOWLEDGED
        else:
            wanted_by = [c for c in channels if c.wants(transition)]
            for channel in wanted_by:
                per_channel.setdefault(channel.pk, []).append(transition)
            transition.outcome = Outcome.NOTIFIED if wanted_by else Outcome.NO_CHANNEL
    AlertTransition.objects.bulk_update(transitions, ["outcome"])
    notified = [t.alert_id for t in transitions if t.outcome == Outcome.NOTIFIED]
    Alert.objects.filter(pk__in=notified).update(notified_at=now)
    by_id = {c.pk: c for c in channels}
    return [Notification.objects.compose(by_id[pk], items) for pk, items in per_channel.items()]


PRUNE_BATCH = 1000


def prune_history(now: datetime) -> dict[str, int]:
    """Forget what ALERT_RETENTION_DAYS no longer keeps; returns how many rows of each went.

    Alerts resolved before the cutoff go with their transitions (a firing alert keeps
    its whole history, however old), then finished notifications from before the cutoff
    that carry no transition any more. Audit entries stay, pointing at no alert. In
    batches, each its own transaction, so rule evaluation never waits long behind it;
    two runs at once delete each row once.
    """
    cutoff = now - timedelta(days=settings.ALERT_RETENTION_DAYS)
    deleted = {"alerts": 0, "transitions": 0, "notifications": 0}
    expired = Alert.objects.filter(state=AlertState.RESOLVED, resolved_at__lt=cutoff)
    while ids := list(expired.values_list("id", flat=True)[:PRUNE_BATCH]):
        with transaction.atomic():
            _, counts = Alert.objects.filter(id__in=ids).delete()
        deleted["alerts"] += counts.get("alerts.Alert", 0)
        deleted["transitions"] += counts.get("alerts.AlertTransition", 0)
    # Pending ones are still owed to their channel, whatever their age.
    orphaned = Notification.objects.filter(created_at__lt=cutoff, transitions=None).exclude(
        status=DeliveryStatus.PENDING
    )
    while ids := list(orphaned.values_list("id", flat=True)[:PRUNE_BATCH]):
        with transaction.atomic():
            _, counts = Notification.objects.filter(id__in=ids).delete()
        deleted["notifications"] += counts.get("alerts.Notification", 0)
    return deleted


def queue_reminders(now: datetime) -> int:
    """Record a reminder for firing, unacknowledged alerts not notified for ALERT_REPEAT_MINUTES."""
    if not settings.ALERT_REPEAT_MINUTES:
        return 0
    due_before = now - timedelta(minutes=settings.ALERT_REPEAT_MINUTES)
    # Never notified (silenced when it fired, say) counts from the start: once the silence
    # is over, a still-firing alert is news again.
    due = (
        Alert.objects.firing()
        .filter(acknowledged_at=None)
        .annotate(last_news=Coalesce("notified_at", "started_at"))
        .filter(last_news__lte=due_before)
    )
    queued = 0
    for alert in due:
        # Conditional update on the old timestamp: two sweeps at once queue one reminder.
        if Alert.objects.filter(pk=alert.pk, notified_at=alert.notified_at).update(notified_at=now):
            alert.record_transition(AlertState.FIRING, AlertState.FIRING, kind=TransitionKind.REMINDER)
            queued += 1
    return queued


class AuditAction(models.TextChoices):
    ACKNOWLEDGE = "acknowledge"
    UNACKNOWLEDGE = "unacknowledge"
    SILENCE = "silence"
    END_SILENCE = "end_silence", "end silence"
    CHANGE_SILENCE = "change_silence", "change silence"
    TEST_CHANNEL = "test_channel", "send test"


class AuditEntry(models.Model):
    """Who did what to alerts and silences, and when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit")
    silence = models.ForeignKey(Silence, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit")
    detail = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action}"

    @classmethod
    def record(
        cls,
        user: Any,
        action: str,
        *,
        alert: Alert | None = None,
        silence: Silence | None = None,
        detail: str = "",
    ) -> AuditEntry:
        authenticated = user is not None and getattr(user, "is_authenticated", False)
        return cls.objects.create(
            user=user if authenticated else None,
            username=user.get_username() if authenticated else "system",
            action=action,
            alert=alert,
            silence=silence,
            detail=detail or str(silence or alert or ""),
        )
