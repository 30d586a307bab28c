"""Hosts that report to the hub, and the API keys that identify agents and readers."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from statusdash.lib.writelock import write_transaction

HOST_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}\Z")
HOST_NAME_VALIDATOR = RegexValidator(
    HOST_NAME_PATTERN,
    "A host name is 1 to 63 characters of lowercase letters, digits, '-' and '.', starting with a letter or digit.",
)


def validate_tags(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError("Tags must be a list of strings.")
    for tag in value:
        if not 1 <= len(tag) <= 40:
            raise ValidationError("Each tag must be 1 to 40 characters.")


class HostStatus(models.TextChoices):
    ONLINE = "online"
    STALE = "stale"
    OFFLINE = "offline"


class HostQuerySet(models.QuerySet["Host"]):
    def enabled(self) -> HostQuerySet:
        return self.filter(enabled=True)


class Host(models.Model):
    # The agent's identity: the client certificate's CN, or the host an agent key is bound to.
    name = models.CharField(max_length=63, unique=True, validators=[HOST_NAME_VALIDATOR])
    display_name = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags])
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)

    # What the agent last said about the machine.
    os = models.CharField(max_length=200, blank=True)
    kernel = models.CharField(max_length=200, blank=True)
    arch = models.CharField(max_length=50, blank=True)
    cpu_count = models.PositiveIntegerField(null=True, blank=True)
    agent_version = models.CharField(max_length=50, blank=True)
    boot_time = models.DateTimeField(null=True, blank=True)
    reported_hostname = models.CharField(max_length=255, blank=True)

    objects = HostQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def status(self, now: datetime | None = None) -> str:
        """online while reports arrive on time, stale after a few missed, offline after more."""
        if self.last_seen is None:
            return HostStatus.OFFLINE
        age = ((now or timezone.now()) - self.last_seen).total_seconds()
        interval = settings.REPORT_INTERVAL
        if age <= interval * settings.STALE_AFTER_INTERVALS:
            return HostStatus.ONLINE
        if age <= interval * settings.OFFLINE_AFTER_INTERVALS:
            return HostStatus.STALE
        return HostStatus.OFFLINE

    @staticmethod
    def reported_fields(system: dict[str, Any], cpu_count: int) -> dict[str, Any]:
        """The columns a report updates: last seen, and what the agent says about the machine."""
        now = timezone.now()
        fields: dict[str, Any] = {
            "first_seen": Coalesce(F("first_seen"), Value(now)),
            "last_seen": now,
            "os": system.get("os", "")[:200],
            "kernel": system.get("kernel", "")[:200],
            "arch": system.get("arch", "")[:50],
            "agent_version": system.get("agent_version", "")[:50],
            "reported_hostname": system.get("hostname", "")[:255],
            "cpu_count": cpu_count,
        }
        if system.get("boot_time"):
            fields["boot_time"] = system["boot_time"]
        return fields


class ApiKeyScope(models.TextChoices):
    AGENT = "agent", "agent (reports for one host)"
    READ = "read", "read (dashboard API)"
    SERVICE = "service", "service (health events)"


def hash_key(raw: str) -> str:
    # Keys are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def find(self, raw: str) -> ApiKey | None:
        """The key matching a presented secret, or None. Revoked keys are returned too."""
        if not raw.startswith("sd_") or len(raw) > 200:
            return None
        return self.select_related("host").filter(hashed=hash_key(raw)).first()


class ApiKey(models.Model):
    PREFIX_LENGTH = 11  # "sd_" plus 8 characters: enough to tell keys apart in a list

    label = models.CharField(max_length=100, blank=True)
    scope = models.CharField(max_length=10, choices=ApiKeyScope.choices)
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    service = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False)
    hashed = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="agent_keys_have_a_host",
                condition=~models.Q(scope="agent") | models.Q(host__isnull=False),
            ),
        ]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.scope}{': ' + str(self.host) if self.host_id else ''})"

    @classmethod
    def issue(
        cls,
        scope: str,
        *,
        host: Host | None = None,
        label: str = "",
        service: str = "",
    ) -> tuple[ApiKey, str]:
        """Create a key and return it with its secret, which is not stored and shown only now."""
        raw = "sd_" + secrets.token_urlsafe(32)
        key = cls.objects.create(
            scope=scope,
            host=host,
            label=label,
            service=service,
            prefix=raw[: cls.PREFIX_LENGTH],
            hashed=hash_key(raw),
        )
        return key, raw

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        """Record use, at most once a minute, so busy agents don't write a row per report."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > timedelta(minutes=1):
            with write_transaction():
                ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


class LiveEvent(models.Model):
    """A dashboard push written by a process that cannot reach the in-memory channel layer.

    Only used without Redis: the web process relays and deletes these rows.
    """

    group = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.group}: {self.payload}"

    @classmethod
    def take_all(cls, limit: int = 500) -> list[LiveEvent]:
        events: list[LiveEvent] = list(LiveEvent.objects.order_by("id")[:limit])
        if events:
            # Deleting by id (not "everything") keeps rows written meanwhile for the next pass.
            LiveEvent.objects.filter(id__in=[e.id for e in events]).delete()
        return events
