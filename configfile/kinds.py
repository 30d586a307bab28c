"""Each kind of object a file configures, between its model and the file: how it is named,
read (for export and for the diff), written (through the model's own validation) and removed.

`current()` gives an object's fields exactly as a file holds them, so export writes it and
apply compares against it: a file exported from a hub changes nothing when applied to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from alerts import events
from alerts.models import AlertRule, AuditAction, AuditEntry, NotificationChannel, Silence
from checks.models import HUB, TAG_PREFIX, Check
from checks.options import OPTIONS_BY_KIND
from hosts.models import Host
from hosts.signals import host_changed


@dataclass
class Context:
    """What every write needs to know: who applies, and which hosts --prune will delete."""

    user: Any = None
    doomed_hosts: set[str] = field(default_factory=set)

    def host(self, name: str, field_name: str) -> Host:
        """The host a rule or silence names; an error naming the field otherwise."""
        found = Host.objects.filter(name=name).first()
        if found is None:
            raise ValidationError({field_name: f"no host is called {name!r}"})
        return found


class Kind:
    plural: str
    singular: str
    model: type[models.Model]

    def rows(self) -> dict[str, Any]:
        """Every stored object by its key."""
        return {self.key(self.current(row)): row for row in self.model._default_manager.all()}

    def exported(self, row: Any) -> bool:
        return True

    def prunable(self, row: Any) -> bool:
        return True

    def key(self, values: dict[str, Any]) -> str:
        return str(values["name"])

    def normalize(self, values: dict[str, Any]) -> dict[str, Any]:
        """A file's values in the form current() gives (what the model would store)."""
        return values

    def hosts_named(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        """(field, host name) for every host the object refers to."""
        return []

    def current(self, row: Any) -> dict[str, Any]:
        raise NotImplementedError

    def write(self, row: Any | None, values: dict[str, Any], context: Context) -> Any:
        """Create or change the object; ValidationError (by field) when the model refuses it."""
        raise NotImplementedError

    def remove(self, row: Any, context: Context) -> str:
        """Remove for --prune; says what was done ("delete")."""
        row.delete()
        return "delete"


class Hosts(Kind):
    plural, singular, model = "hosts", "host", Host
    FIELDS = ("name", "display_name", "description", "tags", "enabled", "agent_auto_update")

    def current(self, row: Host) -> dict[str, Any]:
        return {name: getattr(row, name) for name in self.FIELDS}

    def write(self, row: Host | None, values: dict[str, Any], context: Context) -> Host:
        host = row or Host()
        for name in self.FIELDS:
            setattr(host, name, values[name])
        host.full_clean()
        host.save()
        return host

    def remove(self, row: Host, context: Context) -> str:
        row.delete()  # its certificates are revoked (hosts.apps, pre_delete)
        return "delete"


class Rules(Kind):
    plural, singular, model = "rules", "rule", AlertRule
    FIELDS = (
        "name",
        "metric",
        "warning_level",
        "critical_level",
        "clear_level",
        "duration_seconds",
        "tag",
        "subject",
        "enabled",
    )

    def rows(self) -> dict[str, Any]:
        return {row.name: row for row in AlertRule.objects.select_related("host")}

    def current(self, row: AlertRule) -> dict[str, Any]:
        values = {name: getattr(row, name) for name in self.FIELDS}
        values["host"] = row.host.name if row.host is not None else None
        return values

    def hosts_named(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        return [("host", values["host"])] if values["host"] else []

    def write(self, row: AlertRule | None, values: dict[str, Any], context: Context) -> AlertRule:
        rule = row or AlertRule()
        for name in self.FIELDS:
            setattr(rule, name, values[name])
        rule.host = context.host(values["host"], "host") if values["host"] else None
        rule.full_clean()
        rule.save()
        return rule


class Channels(Kind):
    plural, singular, model = "channels", "channel", NotificationChannel
    FIELDS = ("name", "url", "min_severity", "tags", "send_resolved", "enabled")

    def current(self, row: NotificationChannel) -> dict[str, Any]:
        return {name: getattr(row, name) for name in self.FIELDS}

    def write(self, row: NotificationChannel | None, values: dict[str, Any], context: Context) -> NotificationChannel:
        channel = row or NotificationChannel()
        for name in self.FIELDS:
            setattr(channel, name, values[name])
        channel.full_clean()
        channel.save()
        return channel


class Checks(Kind):
    plural, singular, model = "checks", "check", Check
    FIELDS = (
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
        "runs_on",
        "username",
        "password",
        "bearer_token",
    )

    def rows(self) -> dict[str, Any]:
        return {row.name: row for row in Check.objects.select_related("host")}

    def current(self, row: Check) -> dict[str, Any]:
        values = {name: getattr(row, name) for name in self.FIELDS}
        values["options"] = dict(sorted((row.options or {}).items()))
        values["timeout"] = float(row.timeout)
        return values

    def normalize(self, values: dict[str, Any]) -> dict[str, Any]:
        # The model keeps only the options that differ from their defaults (Check.clean);
        # compare like with like, or `method: GET` would be a change at every apply.
        options_model = OPTIONS_BY_KIND.get(values["kind"])
        if options_model is not None:
            try:
                parsed = options_model.model_validate(values["options"])
            except ValueError:
                return values  # the model refuses it when written, naming the option
            values = {**values, "options": dict(sorted(parsed.model_dump(exclude_defaults=True).items()))}
        return {**values, "timeout": float(values["timeout"])}

    def hosts_named(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        runs_on = values["runs_on"].strip()
        return [] if runs_on in ("", HUB) or runs_on.startswith(TAG_PREFIX) else [("runs_on", runs_on)]

    def write(self, row: Check | None, values: dict[str, Any], context: Context) -> Check:
        check = row or Check()
        check.apply_changes(values)  # the admin's and the API's validation, then save
        return check


class Silences(Kind):
    """A silence has no name: it is the window over what it covers starting at starts_at.

    Changing its end or its reason changes it; changing what it covers or when it starts
    makes another silence (with --prune, the old one ends).
    """

    plural, singular, model = "silences", "silence", Silence

    def rows(self) -> dict[str, Any]:
        found: dict[str, Silence] = {}
        # Oldest first, so of two stored with one key the newest is the one the file means.
        for row in Silence.objects.prefetch_related("hosts").order_by("pk"):
            found[self.key(self.current(row))] = row
        return found

    def exported(self, row: Silence) -> bool:
        # Silences over are history, not configuration.
        return row.ends_at > timezone.now()

    prunable = exported

    def key(self, values: dict[str, Any]) -> str:
        scope = [
            *values["hosts"],
            *(f"tag:{tag}" for tag in values["tags"]),
            *(f"service:{name}" for name in values["services"]),
            *(["hub"] if values["hub"] else []),
        ]
        return f"{', '.join(scope) or 'nothing'} from {as_text(values['starts_at'])}"

    def current(self, row: Silence) -> dict[str, Any]:
        return {
            "hosts": sorted(host.name for host in row.hosts.all()),
            "tags": sorted(row.tags or []),
            "services": sorted(row.services or []),
            "hub": row.hub,
            "starts_at": row.starts_at.astimezone(UTC),
            "ends_at": row.ends_at.astimezone(UTC),
            "reason": row.reason,
        }

    def normalize(self, values: dict[str, Any]) -> dict[str, Any]:
        return {
            **values,
            "hosts": sorted(set(values["hosts"])),
            "tags": sorted(set(values["tags"])),
            "services": sorted(set(values["services"])),
            "starts_at": values["starts_at"].astimezone(UTC),
            "ends_at": values["ends_at"].astimezone(UTC),
        }

    def hosts_named(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        return [("hosts", name) for name in values["hosts"]]

    def write(self, row: Silence | None, values: dict[str, Any], context: Context) -> Silence:
        silence = row or Silence(created_by=context.user if getattr(context.user, "is_authenticated", False) else None)
        before = set(silence.covered_hosts()) if row is not None else set()
        hosts = [context.host(name, "hosts") for name in values["hosts"]]
        for name in ("tags", "services", "hub", "starts_at", "ends_at", "reason"):
            setattr(silence, name, values[name])
        silence.full_clean(exclude=["created_by"])
        silence.save()
        silence.hosts.set(hosts)
        AuditEntry.record(
            context.user, AuditAction.CHANGE_SILENCE if row is not None else AuditAction.SILENCE, silence=silence
        )
        events.silence_changed(silence)
        # Hosts it no longer covers redraw too.
        for host in before - set(silence.covered_hosts()):
            host_changed.send(sender=Silence, host_id=host.pk)
        return silence

    def remove(self, row: Silence, context: Context) -> str:
        events.silence_changed(row)
        if row.starts_at <= timezone.now():
            # In force: end it now and keep the record, as "End now" in the admin does.
            row.end(context.user)
            return "end"
        row.delete()  # never in force: nothing to keep
        return "delete"


def as_text(value: datetime) -> str:
    """A time as a file writes it: UTC, ISO 8601, Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


KINDS: dict[str, Kind] = {kind.plural: kind for kind in (Hosts(), Rules(), Channels(), Checks(), Silences())}
