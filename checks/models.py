"""Checks as rows: what to watch and how, every result, and every change of state.

A `Check` says what to probe, how often and where from; each run stores a
`CheckResult`; the check's state changes only after `retries + 1` failed runs in a
row (one good run restores it), and each change is a `CheckFlip` row that raises or
resolves the check's alert through the alert machinery (so channels, grouping,
silences and maintenance apply) and counts in the overall sentiment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models, transaction
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from alerts.models import SERVICE_NAME_MAX_LENGTH, SERVICE_NAME_PATTERN, Alert, Severity
from checks import targets
from checks.options import OPTIONS_BY_KIND, Options
from checks.signals import check_updated
from hosts.models import Host, validate_tags
from metrics.rollups import cursor_position
from metrics.signals import CheckResultCounts
from services.signals import sentiment_changed

MIN_INTERVAL = 20
MAX_INTERVAL = 86400
MESSAGE_MAX_LENGTH = 500
# The rule name of every check's alert; the alert's `service` is the check's name.
CHECK_ALERT_RULE = "check"
HUB = "hub"
TAG_PREFIX = "tag:"


class CheckKind(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP connect"
    PING = "ping", "ping (ICMP)"
    DNS = "dns", "DNS"
    TLS = "tls", "TLS certificate"
    PLUGIN = "plugin", "Nagios plugin"


class CheckState(models.TextChoices):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


ALERT_SEVERITY = {
    CheckState.WARNING: Severity.WARNING,
    CheckState.UNKNOWN: Severity.WARNING,
    CheckState.CRITICAL: Severity.CRITICAL,
}


@dataclass(frozen=True)
class Outcome:
    """What one run found, before it is stored."""

    state: str
    message: str = ""
    latency_ms: float | None = None


def validate_check_name(name: str) -> None:
    # Alerts and silences name a check by it (Alert.service), and the API takes an id or a name.
    if not re.match(SERVICE_NAME_PATTERN, name) or name.isdigit():
        raise ValidationError(
            "Use letters, digits, '.', '_' and '-', starting with a letter or digit, not digits alone."
        )


EDITABLE_FIELDS = frozenset(
    {
        "name",
        "kind",
        "target",
        "interval",
        "timeout",
        "retries",
        "options",
        "tags",
        "public",
        "enabled",
        "username",
        "password",
        "bearer_token",
    }
)


class CheckQuerySet(models.QuerySet["Check"]):
    def on_hub(self) -> CheckQuerySet:
        return self.filter(enabled=True, host__isnull=True, host_tag="")

    def due(self, now: datetime) -> CheckQuerySet:
        return self.on_hub().filter(next_run_at__lte=now)

    def for_agent(self, host: Host) -> list[Check]:
        """The enabled checks `host`'s agent runs: its own, and those of any tag it has, by id."""
        tags = set(host.tags or [])
        candidates = self.filter(enabled=True).filter(models.Q(host=host) | ~models.Q(host_tag="")).order_by("pk")
        # Tags are a JSON list; matched here so SQLite and PostgreSQL answer alike.
        return [check for check in candidates if check.host_id == host.pk or check.host_tag in tags]

    def by_ref(self, ref: str) -> Check:
        """The check with this id or name (names are never digits alone); DoesNotExist otherwise."""
        return self.get(pk=int(ref)) if ref.isdigit() else self.get(name=ref)


class Check(models.Model):
    name = models.CharField(max_length=SERVICE_NAME_MAX_LENGTH, unique=True, validators=[validate_check_name])
    kind = models.CharField(max_length=10, choices=CheckKind.choices)
    target = models.CharField(
        max_length=1000, help_text="URL (http), host:port (tcp, tls), host (ping), name (dns), plugin path (plugin)."
    )
    interval = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text=f"Seconds between runs ({MIN_INTERVAL} s to 24 h).",
    )
    timeout = models.FloatField(
        default=10, validators=[MinValueValidator(0.5), MaxValueValidator(120)], help_text="Seconds per run."
    )
    retries = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(10)],
        help_text="Failed runs in a row tolerated before the state changes (1: down after 2 failures).",
    )
    options = models.JSONField(default=dict, blank=True, help_text="The kind's options (docs: checks/options.py).")
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags])
    public = models.BooleanField(default=False, help_text="Show on the public status page /status/.")
    enabled = models.BooleanField(default=True)
    # Where it runs: neither set is the hub; a host runs it on that host's agent; a tag, on every tagged agent.
    host = models.ForeignKey(
        Host, null=True, blank=True, on_delete=models.CASCADE, related_name="checks", help_text="Run by this agent."
    )
    host_tag = models.CharField(max_length=40, blank=True, help_text="Run by every agent with this tag.")
    # Secrets for HTTP authentication, kept like notification channels' URLs: in the database,
    # never listed, never returned by the API (it says only whether they are set).
    username = models.CharField(max_length=200, blank=True, help_text="HTTP basic auth.")
    password = models.CharField(max_length=200, blank=True, help_text="HTTP basic auth (a secret: never shown).")
    bearer_token = models.CharField(max_length=2000, blank=True, help_text="Authorization: Bearer (a secret).")

    # The scheduler claims a run by moving this forward with a conditional UPDATE (scheduler.py).
    next_run_at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=10, choices=CheckState.choices, default=CheckState.UNKNOWN)
    since = models.DateTimeField(null=True, blank=True, help_text="When the current state began.")
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_result_at = models.DateTimeField(null=True, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_message = models.CharField(max_length=MESSAGE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = CheckQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="check_runs_on_one_place", condition=models.Q(host__isnull=True) | models.Q(host_tag="")
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        before = None
        if self.pk is not None and kwargs.get("update_fields") is None:
            before = Check.objects.filter(pk=self.pk).values("name", "enabled").first()
            # A renamed or disabled check will never resolve its alert itself.
            if before is not None and (before["name"] != self.name or (before["enabled"] and not self.enabled)):
                self.forget_alert(before["name"])
        super().save(*args, **kwargs)
        if kwargs.get("update_fields") is None:
            check_updated.send(sender=Check, check_id=self.pk)  # edited: redraw its row
        if before is not None and (before["name"], before["enabled"]) != (self.name, self.enabled):
            sentiment_changed.send(sender=type(self))  # it joins or leaves the overall answer

    # --- validation, shared by the admin, the CLI and the API ----------------------

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        try:
            self.validate_target()
        except ValidationError as error:
            errors["target"] = error.messages
        try:
            self.options = self.parsed_options().model_dump(exclude_defaults=True)
        except ValidationError as error:
            errors["options"] = error.messages
        if self.timeout is not None and self.interval is not None and self.timeout > self.interval:
            errors["timeout"] = "The timeout must not be longer than the interval."
        if self.host_id is not None and self.host_tag:
            errors["host_tag"] = "A check runs on one host or on every host with a tag, not both."
        if self.kind == CheckKind.TLS and self.options:
            parsed = self.parsed_options()
            if getattr(parsed, "critical_days", 0) > getattr(parsed, "warn_days", 0):
                errors["options"] = "critical_days must be at most warn_days."
        if self.kind != CheckKind.HTTP and (self.username or self.password or self.bearer_token):
            errors["username" if self.username else "password" if self.password else "bearer_token"] = (
                "Credentials are for HTTP checks only."
            )
        if errors:
            raise ValidationError(errors)

    def validate_target(self) -> None:
        target = self.target or ""
        if target != target.strip() or not target:
            raise ValidationError("The target must not be empty or start or end with spaces.")
        if self.kind == CheckKind.HTTP:
            targets.validate_url(target)
        elif self.kind == CheckKind.TCP:
            targets.split_host_port(target)
        elif self.kind == CheckKind.TLS:
            targets.split_host_port(target, default_port=443)
        elif self.kind in (CheckKind.PING, CheckKind.DNS):
            targets.validate_host(target)
        elif self.kind == CheckKind.PLUGIN:
            targets.validate_plugin_path(target, settings.CHECK_PLUGIN_DIRS)

    def parsed_options(self) -> Options:
        model = OPTIONS_BY_KIND.get(self.kind)
        if model is None:
            raise ValidationError(f"Unknown kind {self.kind!r}.")
        if not isinstance(self.options, dict):
            raise ValidationError("Options must be a JSON object.")
        try:
            return model.model_validate(self.options)
        except PydanticValidationError as error:
            raise ValidationError(
                [f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in error.errors()]
            ) from None

    def apply_changes(self, changes: dict[str, Any]) -> None:
        """Set fields (and `runs_on`) from the CLI or the API, validate as the admin does, save.

        A ValidationError names each bad field, and then nothing is saved.
        """
        errors: dict[str, list[str]] = {}
        for field, value in changes.items():
            if field == "runs_on":
                try:
                    self.set_runs_on(value)
                except ValidationError as error:
                    errors.update(error.message_dict)
            elif field in EDITABLE_FIELDS:
                setattr(self, field, value)
            else:
                errors[field] = ["Not a field of a check."]
        try:
            self.full_clean()
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)
        self.save()

    # --- where it runs ---------------------------------------------------------

    @property
    def runs_on(self) -> str:
        """ "hub", a host's name, or "tag:TAG": how the CLI and the API say it."""
        if self.host is not None:
            return self.host.name
        return f"{TAG_PREFIX}{self.host_tag}" if self.host_tag else HUB

    def set_runs_on(self, text: str) -> None:
        text = text.strip()
        self.host, self.host_tag = None, ""
        if text.startswith(TAG_PREFIX):
            tag = text.removeprefix(TAG_PREFIX)
            if not 1 <= len(tag) <= 40:
                raise ValidationError({"runs_on": "A tag must be 1 to 40 characters: tag:TAG."})
            self.host_tag = tag
        elif text and text != HUB:
            host = Host.objects.filter(name=text).first()
            if host is None:
                raise ValidationError({"runs_on": f"No host is called {text!r} (give hub, a host's name or tag:TAG)."})
            self.host = host

    # --- results and state -----------------------------------------------------

    def is_failure(self, state: str) -> bool:
        return state != CheckState.OK

    def record(self, outcome: Outcome, at: datetime | None = None) -> CheckResult:
        """Store one run's result and move the state if the retries are used up. One transaction."""
        at = at or timezone.now()
        with transaction.atomic():
            # Locked: a manual run (`checks run`) and the scheduler may record at once,
            # and each must count the other's failure.
            check = Check.objects.select_for_update().get(pk=self.pk)
            result = CheckResult.objects.create(
                service_check=check,
                at=at,
                state=outcome.state,
                latency_ms=outcome.latency_ms,
                message=outcome.message[:MESSAGE_MAX_LENGTH],
            )
            check._apply(result)
        self.refresh_from_db()
        check_updated.send(sender=Check, check_id=self.pk)
        return result

    @classmethod
    def record_agent_results(cls, host: Host, results: list[dict[str, Any]]) -> CheckResultCounts:
        """Store the check results from `host`'s report (validated CheckResultIn dicts), in the
        caller's transaction; what was stored, already there, and ignored.

        A result for a check that is not (or no longer) this host's is ignored, not refused:
        an agent runs the list it fetched up to a minute ago, so a check reassigned, disabled
        or deleted since is an ordinary race, and a 422 would make the agent drop the whole
        report (its metrics too) as malformed.
        """
        assigned = {check.pk: check for check in cls.objects.for_agent(host)}
        accepted = duplicates = ignored = 0
        # In the order they ran, so the retries count failures in a row as they happened.
        for result in sorted(results, key=lambda r: r["ran_at"]):
            check = assigned.get(result["check_id"])
            if check is None:
                ignored += 1
                continue
            outcome = Outcome(result["state"], result.get("message") or "", result.get("latency_ms"))
            if check.record_reported(outcome, result["ran_at"], host):
                accepted += 1
            else:
                duplicates += 1
        return CheckResultCounts(accepted, duplicates, ignored)

    def record_reported(self, outcome: Outcome, at: datetime, host: Host) -> bool:
        """Store a result an agent ran and reported; False when it was stored before (a resent report).

        Runs in the caller's transaction (the report's, metrics/ingest.py), so the result,
        the state it moves and the alert it raises commit with the report's samples or not at all.
        """
        # Locked for the same reason as record(): the hub (a manual run) or another agent
        # reporting the same tag's check may record at once.
        check = Check.objects.select_for_update().get(pk=self.pk)
        result = CheckResult(
            service_check=check,
            host=host,
            at=at,
            state=outcome.state,
            latency_ms=outcome.latency_ms,
            message=outcome.message[:MESSAGE_MAX_LENGTH],
        )
        if not CheckResult.insert_new(result):
            return False
        # A late result (an agent's spooled backlog arriving after another agent of the
        # same tag reported newer ones) is history, not news: it must not move the state back.
        if check.last_result_at is None or at >= check.last_result_at:
            check._apply(result)
            check_updated.send(sender=Check, check_id=check.pk)
        return True

    def _apply(self, result: CheckResult) -> None:
        self.last_result_at, self.last_latency_ms, self.last_message = result.at, result.latency_ms, result.message
        if self.is_failure(result.state):
            self.consecutive_failures += 1
            # Down only after retries + 1 failures in a row; once down, a change of
            # failure (warning to critical) shows at once.
            # (A new check is `unknown` without a `since`: not yet judged, so not already down.)
            already_down = self.since is not None and self.is_failure(self.state)
            confirmed = self.consecutive_failures > self.retries or already_down
            new_state = result.state if confirmed else self.state
        else:
            self.consecutive_failures = 0
            new_state = CheckState.OK
        changed = new_state != self.state
        if changed:
            CheckFlip.objects.create(service_check=self, old_state=self.state, new_state=new_state, at=result.at)
            self.state, self.since = new_state, result.at
        self.save(
            update_fields=[
                "last_result_at",
                "last_latency_ms",
                "last_message",
                "consecutive_failures",
                "state",
                "since",
            ]
        )
        if changed:
            self.raise_or_resolve_alert()
            sentiment_changed.send(sender=type(self))

    def raise_or_resolve_alert(self) -> None:
        if self.state == CheckState.OK:
            Alert.objects.resolve(CHECK_ALERT_RULE, service=self.name)
        elif self.state in ALERT_SEVERITY:
            message = f"Check {self.name} is {self.state}" + (f": {self.last_message}" if self.last_message else "")
            Alert.objects.fire(
                CHECK_ALERT_RULE,
                service=self.name,
                severity=ALERT_SEVERITY[CheckState(self.state)],
                message=message,
                value=self.last_latency_ms,
            )

    def forget_alert(self, name: str | None = None) -> None:
        """Resolve the alert of a check that is deleted, disabled or renamed: nobody will resolve it later."""
        Alert.objects.resolve(CHECK_ALERT_RULE, service=name or self.name)

    def sentiment_entry(self) -> dict[str, Any]:
        """The check as a service in the overall sentiment (services/sentiment.py)."""
        entry: dict[str, Any] = {
            "name": self.name,
            "label": self.name,
            "status": SENTIMENT_STATUS[CheckState(self.state)],
            "lastCheck": self.last_result_at,
        }
        if self.state != CheckState.OK and self.last_message:
            entry["error"] = self.last_message
        return entry


# services.models.ServiceStatus's words: a warning (a certificate expiring soon) degrades the
# overall answer like an unknown service; only critical makes it unhealthy.
SENTIMENT_STATUS = {
    CheckState.OK: "healthy",
    CheckState.WARNING: "unknown",
    CheckState.UNKNOWN: "unknown",
    CheckState.CRITICAL: "unhealthy",
}


# Rollups read results by id from this cursor (metrics.rollups.RollupCursor).
RESULTS_CURSOR = "check_results"


class CheckResultQuerySet(models.QuerySet["CheckResult"]):
    def prune(self, now: datetime | None = None, batch: int = 5000) -> int:
        """Forget raw results older than RAW_RETENTION_HOURS once rolled up, in batches
        (each its own transaction)."""
        cutoff = (now or timezone.now()) - timedelta(hours=settings.RAW_RETENTION_HOURS)
        rolled_up = cursor_position(RESULTS_CURSOR)
        deleted = 0
        while ids := list(self.filter(at__lt=cutoff, id__lte=rolled_up).values_list("id", flat=True)[:batch]):
            with transaction.atomic():
                count, _ = CheckResult.objects.filter(id__in=ids).delete()
            deleted += count
        return deleted


class CheckResult(models.Model):
    # Not `check`: that name is Django's Model.check().
    service_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="results")
    # The agent that ran it; null for the hub's own runs.
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=CheckState.choices)
    latency_ms = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=MESSAGE_MAX_LENGTH, blank=True)
    # When the hub stored it (an agent's result may arrive late): rollups read only rows
    # stored a while ago, so a slow commit cannot slip behind their cursor.
    received_at = models.DateTimeField(default=timezone.now)

    objects = CheckResultQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # A check's history by time (the results API, charts); retention's `at <` uses it too.
            models.Index(fields=["service_check", "at"], name="check_result_at"),
            models.Index(fields=["at"], name="check_result_retention"),
        ]
        constraints = [
            # A resent report (an agent's spool after a lost answer) carries the same results
            # again: one row per check, agent and run time, as MetricSample keeps one per host
            # and time. The hub's own runs (host null) never conflict: NULLs are distinct.
            models.UniqueConstraint(fields=["service_check", "host", "at"], name="check_result_once"),
        ]

    def __str__(self) -> str:
        return f"{self.service_check_id} {self.state} at {self.at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def insert_new(cls, result: CheckResult) -> bool:
        """INSERT … ON CONFLICT DO NOTHING: True if `result` was stored, False if its
        (check, host, at) was already there. No IntegrityError, so the caller's transaction
        (a report's) goes on; a savepoint per result would cost a round trip each."""
        fields = [f for f in cls._meta.concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        values = [f.get_db_prep_save(f.pre_save(result, True), connection) for f in fields]
        # Only identifiers from our own model and %s placeholders go into the text.
        sql = (
            f"INSERT INTO {quote(cls._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({quote('service_check_id')}, {quote('host_id')}, {quote('at')}) DO NOTHING "
            f"RETURNING {quote('id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        if row is None:
            return False
        result.pk = row[0]
        return True


class CheckRollup(models.Model):
    """One check's runs over one step (a tier of ROLLUP_TIERS), built by checks/rollups.py.

    Uptime is `up_runs / runs`, a warning counted as up (the service answered; a
    certificate expiring in 20 days is no outage) and unknown as down (nobody could tell).
    Latency is over the runs that measured one (`latency_runs`).
    """

    service_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="rollups")
    step = models.PositiveIntegerField(help_text="Seconds per bucket.")
    bucket_start = models.DateTimeField()
    runs = models.PositiveIntegerField()
    up_runs = models.PositiveIntegerField()
    latency_runs = models.PositiveIntegerField(default=0)
    latency_avg = models.FloatField(null=True)
    latency_p95 = models.FloatField(null=True)
    latency_max = models.FloatField(null=True)

    class Meta:
        constraints = [
            # Upserts key on it, and it serves the charts: check, step, then a time range.
            models.UniqueConstraint(
                fields=["service_check", "step", "bucket_start"], name="one_check_rollup_per_bucket"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_check_id} {self.step}s @ {self.bucket_start.isoformat()}"

    @property
    def uptime(self) -> float | None:
        return self.up_runs / self.runs if self.runs else None


class CheckFlip(models.Model):
    """A change of a check's state, as the hub decided it (after the retries)."""

    service_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="flips")
    old_state = models.CharField(max_length=10, choices=CheckState.choices)
    new_state = models.CharField(max_length=10, choices=CheckState.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["service_check", "at"], name="check_flip_at")]

    def __str__(self) -> str:
        return f"{self.service_check_id}: {self.old_state} -> {self.new_state} at {self.at:%Y-%m-%d %H:%M:%S}"
