"""Service health reported as domain events, its history, and what the public status page shows.

Services push events (HTTP or the `domain-events` queue); nothing polls them. Each
service keeps one `ServiceHealth` row (the current state), every event received is a
`ServiceEvent` row (the log), and every status change is a `ServiceFlip` row, from
which `DailyAvailability` is rolled up for the status page's uptime bars.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Count
from django.utils import timezone

from alerts.models import Alert, Severity
from hosts.models import Host
from metrics.models import MetricSample
from services import service_cache
from services.signals import sentiment_changed

# A service is `unknown` once it has sent nothing for this many expected intervals.
STALE_AFTER_INTERVALS = 3


class ServiceStatus(models.TextChoices):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class EventType(models.TextChoices):
    SERVICE_HEALTHY = "SYSTEM_SERVICE_HEALTHY"
    SERVICE_UNHEALTHY = "SYSTEM_SERVICE_UNHEALTHY"
    ALERT_TRIGGERED = "SYSTEM_ALERT_TRIGGERED"
    ALERT_RESOLVED = "SYSTEM_ALERT_RESOLVED"


HEALTH_STATUS = {
    EventType.SERVICE_HEALTHY: ServiceStatus.HEALTHY,
    EventType.SERVICE_UNHEALTHY: ServiceStatus.UNHEALTHY,
}

# Producers speak five severities (docs/events.md, "Event types"); alerts know two.
ALERT_SEVERITY = {
    "info": Severity.WARNING,
    "low": Severity.WARNING,
    "warning": Severity.WARNING,
    "medium": Severity.WARNING,
    "high": Severity.CRITICAL,
    "critical": Severity.CRITICAL,
}


class Outcome(models.TextChoices):
    APPLIED = "applied"
    OUTDATED = "outdated", "outdated (older than the state held)"


DUPLICATE = "duplicate"  # not stored: the same event was received before


def default_expected_interval() -> int:
    return int(settings.SERVICE_EXPECTED_INTERVAL)


@dataclass(frozen=True)
class DomainEvent:
    """One validated event, whichever way it came in (see services/schemas.py)."""

    type: str
    service_name: str
    occurred_at: datetime  # checkedAt, triggeredAt or resolvedAt
    metrics: dict[str, Any] | None = None
    error_message: str = ""
    alert_id: str = ""
    severity: str = ""
    message: str = ""


class ServiceHealthQuerySet(models.QuerySet["ServiceHealth"]):
    def tracked(self) -> ServiceHealthQuerySet:
        """Services that have sent at least one health event: the ones the sentiment counts."""
        return self.filter(last_check__isnull=False)

    def overdue(self, now: datetime) -> ServiceHealthQuerySet:
        return self.tracked().exclude(status=ServiceStatus.UNKNOWN).filter(stale_after__lt=now)

    def locked(self, name: str) -> ServiceHealth:
        """The row for `name`, created if new, locked until the transaction ends."""
        service, _ = self.get_or_create(name=name)
        return self.select_for_update().get(pk=service.pk)


class ServiceHealth(models.Model):
    name = models.CharField(max_length=80, unique=True, help_text="The serviceName its events carry.")
    display_name = models.CharField(max_length=100, blank=True, help_text="Shown instead of the name.")
    status = models.CharField(max_length=10, choices=ServiceStatus.choices, default=ServiceStatus.UNKNOWN)
    # checkedAt of the newest health event applied: older events never overwrite it.
    last_check = models.DateTimeField(null=True, blank=True)
    metrics = models.JSONField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    since = models.DateTimeField(null=True, blank=True, help_text="When the current status began.")
    last_event_at = models.DateTimeField(null=True, blank=True, help_text="When the hub last heard from it.")
    # last_event_at + 3 x expected_interval, stored so the sweep is one indexed comparison.
    stale_after = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    expected_interval = models.PositiveIntegerField(
        default=default_expected_interval,
        validators=[MinValueValidator(1), MaxValueValidator(86400)],
        help_text="Seconds between its health events (it is unknown after 3 without one).",
    )
    public = models.BooleanField(default=False, help_text="Show on the public status page /status/.")
    public_errors = models.BooleanField(
        default=False, help_text="Also show its error messages and alert texts on the public page."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Bumped on every change, so a late cache write cannot replace a newer state.
    version = models.PositiveIntegerField(default=0, editable=False)

    objects = ServiceHealthQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "service"

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.last_event_at is not None:
            self.stale_after = self.last_event_at + timedelta(seconds=self.expected_interval * STALE_AFTER_INTERVALS)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "stale_after"}
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def health_rule(self) -> str:
        return f"health-{self.name}"

    @property
    def stale_rule(self) -> str:
        return f"stale-{self.name}"

    def receive(self, event: DomainEvent, *, via: str, now: datetime) -> str:
        """Apply one event to this (locked) service and log it. Returns applied, outdated or duplicate."""
        seen = self.events.filter(type=event.type, occurred_at=event.occurred_at, alert_id=event.alert_id)
        if seen.exists():
            return DUPLICATE
        outcome = self._receive_health(event, now) if event.type in HEALTH_STATUS else self._receive_alert(event)
        ServiceEvent.objects.create(
            service=self,
            type=event.type,
            occurred_at=event.occurred_at,
            received_at=now,
            via=via,
            metrics=event.metrics,
            error_message=event.error_message,
            alert_id=event.alert_id,
            severity=event.severity,
            message=event.message,
            outcome=outcome,
        )
        return outcome

    def _receive_health(self, event: DomainEvent, now: datetime) -> str:
        self.last_event_at = now
        if self.last_check is not None and event.occurred_at <= self.last_check:
            # A late or replayed event proves the service is alive but says nothing current.
            self.save(update_fields=["last_event_at"])
            return Outcome.OUTDATED
        status = HEALTH_STATUS[EventType(event.type)]
        self.last_check = event.occurred_at
        self.metrics = event.metrics
        self.last_error = event.error_message if status == ServiceStatus.UNHEALTHY else ""
        self._become(status, now)
        self.save()
        if status == ServiceStatus.UNHEALTHY:
            message = f"Service {self.name} is unhealthy" + (f": {event.error_message}" if event.error_message else "")
            Alert.objects.fire(
                self.health_rule, service=self.name, subject=self.name, severity=Severity.CRITICAL, message=message
            )
        else:
            Alert.objects.resolve(self.health_rule, service=self.name, subject=self.name)
        Alert.objects.resolve(self.stale_rule, service=self.name, subject=self.name)
        return Outcome.APPLIED

    def _receive_alert(self, event: DomainEvent) -> str:
        history = self.events.filter(alert_id=event.alert_id)
        newer = history.filter(occurred_at__gt=event.occurred_at)
        if event.type == EventType.ALERT_TRIGGERED:
            # A resolution at the same instant wins: the alert is over.
            newer = newer | history.filter(type=EventType.ALERT_RESOLVED, occurred_at=event.occurred_at)
        if newer.exists():
            return Outcome.OUTDATED
        rule = f"event:{event.alert_id}"
        if event.type == EventType.ALERT_TRIGGERED:
            severity = ALERT_SEVERITY[event.severity]
            Alert.objects.fire(rule, service=self.name, subject=self.name, severity=severity, message=event.message)
        else:
            Alert.objects.resolve(rule, service=self.name, subject=self.name)
        return Outcome.APPLIED

    def cache_entry(self) -> dict[str, Any]:
        """This service's state as the sentiment cache keeps it (services/service_cache.py)."""
        entry: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "status": self.status,
            "lastCheck": self.last_check,
            "version": self.version,
        }
        if self.metrics:
            entry["metrics"] = self.metrics
        if self.status == ServiceStatus.UNHEALTHY and self.last_error:
            entry["error"] = self.last_error
        return entry

    def _become(self, status: str, now: datetime) -> None:
        """Record a status change (a flip row) and publish it once the transaction commits."""
        self.version += 1
        changed = status != self.status
        if changed:
            ServiceFlip.objects.create(service=self, old_status=self.status, new_status=status, at=now)
            self.status, self.since = status, now
        snapshot = self.cache_entry()
        # The cache first, then the push: dashboards re-read the cache when told.
        transaction.on_commit(lambda: service_cache.remember_service(snapshot))
        if changed:
            sentiment_changed.send(sender=type(self))

    @classmethod
    def mark_unknown_if_overdue(cls, pk: int, now: datetime | None = None) -> bool:
        """Turn a silent service `unknown` and raise an alert. Safe to run twice or beside an event."""
        now = now or timezone.now()
        with transaction.atomic():
            # The lock and re-check lose the race to an event that arrived since the sweep's query.
            service = cls.objects.select_for_update().filter(pk=pk).first()
            if service is None or not cls.objects.overdue(now).filter(pk=pk).exists():
                return False
            service._become(ServiceStatus.UNKNOWN, now)
            service.save(update_fields=["status", "since", "version"])
            Alert.objects.fire(
                service.stale_rule,
                service=service.name,
                subject=service.name,
                severity=Severity.WARNING,
                message=(
                    f"Service {service.name} sent no health event for "
                    f"{STALE_AFTER_INTERVALS * service.expected_interval} s"
                ),
            )
        return True


class ServiceOverrideQuerySet(models.QuerySet["ServiceOverride"]):
    def in_force(self, now: datetime | None = None) -> ServiceOverrideQuerySet:
        now = now or timezone.now()
        return self.filter(models.Q(until=None) | models.Q(until__gt=now))


class ServiceOverride(models.Model):
    """An admin's word on a service, which the overall sentiment takes over its events'.

    For a service known to be fine whose health check is broken, or one to count as down
    while its events still say healthy. Who set it, why, and until when are kept; one per
    service; past `until` it no longer counts (the row stays until replaced or removed).
    """

    service = models.OneToOneField(ServiceHealth, on_delete=models.CASCADE, related_name="override")
    status = models.CharField(max_length=10, choices=ServiceStatus.choices)
    reason = models.CharField(max_length=200)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    set_by_name = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    created_at = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField(null=True, blank=True, help_text="Empty: until removed.")

    objects = ServiceOverrideQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.service}: {self.status} ({self.reason})"

    def is_in_force(self, now: datetime | None = None) -> bool:
        return self.until is None or self.until > (now or timezone.now())

    @classmethod
    def put(
        cls, service: ServiceHealth, *, status: str, reason: str, until: datetime | None, user: Any
    ) -> ServiceOverride:
        """Set (or replace) the service's override; the sentiment takes it once this commits."""
        who = user if getattr(user, "is_authenticated", False) else None
        override, _ = cls.objects.update_or_create(
            service=service,
            defaults={
                "status": status,
                "reason": reason,
                "until": until,
                "set_by": who,
                "set_by_name": who.get_username() if who else "system",
                "created_at": timezone.now(),
            },
        )
        overrides_changed()
        return override

    @classmethod
    def remove(cls, service: ServiceHealth) -> bool:
        removed, _ = cls.objects.filter(service=service).delete()
        if removed:
            overrides_changed()
        return bool(removed)


def overrides_changed() -> None:
    transaction.on_commit(lambda: service_cache.forget_overrides())
    sentiment_changed.send(sender=ServiceOverride)


class ServiceEventQuerySet(models.QuerySet["ServiceEvent"]):
    def record(self, events: list[DomainEvent], *, via: str) -> Counter[str]:
        """Apply a batch all-or-nothing; count what each event did."""
        counts: Counter[str] = Counter()
        locked: dict[str, ServiceHealth] = {}
        now = timezone.now()
        with transaction.atomic():
            # One lock order (by name) for every batch, so two batches on the same services cannot deadlock;
            # the row lock serialises concurrent events for one service (the newest checkedAt wins).
            for event in sorted(events, key=lambda e: (e.service_name, e.occurred_at)):
                if event.service_name not in locked:
                    locked[event.service_name] = ServiceHealth.objects.locked(event.service_name)
                counts[locked[event.service_name].receive(event, via=via, now=now)] += 1
        return counts

    def prune(self, now: datetime | None = None) -> int:
        """Forget events older than RETENTION_DAYS (the API refuses such old events anyway)."""
        cutoff = (now or timezone.now()) - timedelta(days=settings.RETENTION_DAYS)
        deleted, _ = self.filter(received_at__lt=cutoff).delete()
        return deleted


class ServiceEvent(models.Model):
    """Every event received, as sent: the service's history."""

    service = models.ForeignKey(ServiceHealth, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=32, choices=EventType.choices)
    occurred_at = models.DateTimeField(help_text="checkedAt, triggeredAt or resolvedAt.")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)  # serves pruning
    via = models.CharField(max_length=10, help_text="http or queue")
    metrics = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    alert_id = models.CharField(max_length=90, blank=True)
    severity = models.CharField(max_length=10, blank=True)
    message = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)

    objects = ServiceEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # The same event twice (a retry, a replayed queue) is stored once.
            models.UniqueConstraint(fields=["service", "type", "occurred_at", "alert_id"], name="service_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.service_id} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class ServiceFlip(models.Model):
    """A status change of a service, as the hub saw it happen."""

    service = models.ForeignKey(ServiceHealth, on_delete=models.CASCADE, related_name="flips")
    old_status = models.CharField(max_length=10, choices=ServiceStatus.choices)
    new_status = models.CharField(max_length=10, choices=ServiceStatus.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["service", "at"], name="flip_service_at")]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.old_status} -> {self.new_status} at {self.at:%Y-%m-%d %H:%M:%S}"


class PublicHost(models.Model):
    """A host an admin chose to show on the public status page (hosts are private by default)."""

    host = models.OneToOneField(Host, on_delete=models.CASCADE, primary_key=True, related_name="public_listing")
    display_name = models.CharField(max_length=100, blank=True, help_text="Public name; the host's label if empty.")
    show_alert_messages = models.BooleanField(default=False, help_text="Also show its alert texts publicly.")

    class Meta:
        ordering = ["host__name"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.display_name or self.host.label


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


class DailyAvailability(models.Model):
    """Per component and UTC day: seconds watched and seconds up. Rolled up by a periodic task,
    so the status page reads 90 small rows per component instead of events or samples."""

    day = models.DateField()
    service = models.ForeignKey(ServiceHealth, null=True, blank=True, on_delete=models.CASCADE)
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE)
    observed_seconds = models.FloatField(default=0)
    up_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["service", "day"], name="availability_service_day"),
            models.UniqueConstraint(fields=["host", "day"], name="availability_host_day"),
            models.CheckConstraint(
                name="availability_one_component",
                condition=models.Q(service__isnull=True, host__isnull=False)
                | models.Q(service__isnull=False, host__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service or self.host} {self.day}: {self.uptime}"

    @property
    def uptime(self) -> float | None:
        return self.up_seconds / self.observed_seconds if self.observed_seconds else None

    @classmethod
    def prune(cls, now: datetime | None = None, keep_days: int = 100) -> int:
        """Drop days the status page (90 days) no longer shows, with a margin."""
        deleted, _ = cls.objects.filter(day__lt=(now or timezone.now()).date() - timedelta(days=keep_days)).delete()
        return deleted

    @classmethod
    def roll_up(cls, day: date, now: datetime | None = None) -> int:
        """(Re)compute one day for every service and enabled host. Idempotent; returns rows written."""
        now = now or timezone.now()
        start, end = day_bounds(day)
        end = min(end, now)
        if end <= start:
            return 0
        written = 0
        for service in ServiceHealth.objects.tracked():
            observed, up = service_uptime(service, start, end)
            if observed:
                cls.objects.update_or_create(
                    service=service, day=day, defaults={"observed_seconds": observed, "up_seconds": up}
                )
                written += 1
        for host_id, observed, up in host_uptimes(start, end):
            cls.objects.update_or_create(
                host_id=host_id, day=day, defaults={"observed_seconds": observed, "up_seconds": up}
            )
            written += 1
        return written


def service_uptime(service: ServiceHealth, start: datetime, end: datetime) -> tuple[float, float]:
    """Seconds watched and seconds healthy in [start, end), from the flips."""
    before = service.flips.filter(at__lt=start).order_by("-at", "-id").first()
    status = before.new_status if before else None  # None: not watched yet
    cursor = start
    observed = up = 0.0
    for flip in service.flips.filter(at__gte=start, at__lt=end).order_by("at", "id"):
        if status is not None:
            span = (flip.at - cursor).total_seconds()
            observed += span
            up += span if status == ServiceStatus.HEALTHY else 0
        status, cursor = flip.new_status, flip.at
    if status is not None:
        span = (end - cursor).total_seconds()
        observed += span
        up += span if status == ServiceStatus.HEALTHY else 0
    return observed, up


def host_uptimes(start: datetime, end: datetime) -> list[tuple[int, float, float]]:
    """(host id, seconds watched, seconds up) for each enabled host in [start, end).

    A host counts as up for one report interval per stored sample: one grouped
    count over the day's samples, not a walk through them.
    """
    interval = settings.REPORT_INTERVAL
    counts = dict(
        MetricSample.objects.filter(collected_at__gte=start, collected_at__lt=end)
        .values("host_id")
        .annotate(n=Count("id"))
        .values_list("host_id", "n")
    )
    rows = []
    for host_id, created_at in Host.objects.enabled().values_list("id", "created_at"):
        watched_from = max(start, created_at)
        if watched_from >= end:
            continue
        observed = (end - watched_from).total_seconds()
        rows.append((host_id, observed, min(observed, counts.get(host_id, 0) * interval)))
    return rows
