"""Record changes into the audit trail: `record()` for one event, `track()` for a model's saves and deletes.

Apps above this one call `track(Model, fields=...)` from their AppConfig.ready() and
`record()` where a change is not a save (an acknowledgement, a test notification). This
app imports none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest

from audit.context import actor_of, address_of, current_command, current_request
from audit.models import AuditAction, AuditEvent

REDACTED = "[redacted]"
# Field names that hold a secret or its hash, in any tracked model: recorded as changed, never their values.
SECRET_FIELDS = frozenset({"password", "hashed", "secret", "token", "bearer_token", "key", "private_key", "url"})
# user:password@ in a URL (a check's target, a webhook): the password is masked wherever it appears.
URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@", re.IGNORECASE)

_BEFORE = "_audit_before"


def plain(value: Any) -> Any:
    """A value as JSON can hold it, with any password in a URL masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return URL_PASSWORD.sub(r"\g<scheme>\g<user>:" + REDACTED + "@", value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def label_of(obj: Any) -> str:
    try:
        return str(obj)[:200]
    except ObjectDoesNotExist:
        # Deleted with what its name mentions (an agent key going with its host, by cascade):
        # the related row is gone by post_delete, so the label falls back to the key.
        return f"{type_of(obj)} {obj.pk}"


def type_of(obj: Any) -> str:
    return obj._meta.label_lower if isinstance(obj, models.Model) else ""


def record(
    actor: Any,
    action: str,
    obj: Any = None,
    changes: dict[str, list[Any]] | None = None,
    request: HttpRequest | None = None,
    *,
    actor_name: str = "",
) -> AuditEvent | None:
    """One row: `actor` (a user; None: the request's) did `action` to `obj`.

    Nothing is recorded without an actor or a name for one: the system's own changes are
    not a person's. `actor_name` names someone who is not a user (a failed log-in's username).
    """
    request = request if request is not None else current_request()
    if actor is None and not actor_name:
        actor = actor_of(request)
    if actor is None and not actor_name:
        actor_name = current_command() or ""
    if actor is None and not actor_name:
        return None
    return AuditEvent.objects.create(
        actor_id=actor.pk if actor is not None else None,
        actor_name=(actor.get_username() if actor is not None else actor_name)[:150],
        address=address_of(request),
        action=action,
        object_type=type_of(obj),
        object_id=str(obj.pk)[:64] if isinstance(obj, models.Model) and obj.pk is not None else "",
        object_label=label_of(obj) if obj is not None else "",
        changes=plain(changes or {}),
    )


class Tracker:
    """The receivers for one model: its fields' values before a save, the difference after."""

    def __init__(self, model: type[models.Model], fields: Iterable[str] | None, secret: Iterable[str]) -> None:
        concrete = {field.name: field for field in model._meta.concrete_fields}
        names = list(fields) if fields is not None else [name for name in concrete if name != "id"]
        unknown = set(names) - set(concrete)
        if unknown:
            raise ValueError(f"{model._meta.label} has no fields {sorted(unknown)}")
        self.model = model
        self.fields = {name: concrete[name] for name in names}
        self.secret = SECRET_FIELDS | set(secret)

    def values(self, instance: models.Model) -> dict[str, Any]:
        return {name: field.value_from_object(instance) for name, field in self.fields.items()}

    def shown(self, name: str, value: Any) -> Any:
        return REDACTED if name in self.secret and value not in (None, "") else plain(value)

    def diff(self, before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
        return {
            name: [self.shown(name, before.get(name)), self.shown(name, after.get(name))]
            for name in self.fields
            if before.get(name) != after.get(name)
        }

    def before_save(self, sender: Any, instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
        # The cost on paths no person drives (ingest, the scheduler): one context lookup, no query.
        if raw or instance.pk is None or (actor_of(current_request()) is None and current_command() is None):
            return
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not set(update_fields) & set(self.fields):
            return
        stored = self.model._default_manager.filter(pk=instance.pk).first()
        if stored is not None:
            instance.__dict__[_BEFORE] = self.values(stored)

    def after_save(self, sender: Any, instance: models.Model, created: bool, raw: bool = False, **kwargs: Any) -> None:
        before = instance.__dict__.pop(_BEFORE, None)
        if raw:
            return
        if created:
            after = self.values(instance)
            record(None, AuditAction.CREATED, instance, self.diff(dict.fromkeys(after), after))
        elif before is not None:
            changes = self.diff(before, self.values(instance))
            if changes:
                record(None, AuditAction.CHANGED, instance, changes)

    def after_delete(self, sender: Any, instance: models.Model, **kwargs: Any) -> None:
        before = self.values(instance)
        record(None, AuditAction.DELETED, instance, self.diff(before, dict.fromkeys(before)))


_trackers: dict[type[models.Model], Tracker] = {}


def track(model: type[models.Model], fields: Iterable[str] | None = None, secret: Iterable[str] = ()) -> None:
    """Record every save and delete a person makes of `model`: created, changed (only when one
    of `fields` changed; default all) and deleted, with before and after of each field; the
    values of `secret` fields (and of SECRET_FIELDS) are never stored. Call from AppConfig.ready()."""
    tracker = Tracker(model, fields, secret)
    _trackers[model] = tracker
    uid = f"audit:{model._meta.label}"
    pre_save.connect(tracker.before_save, sender=model, weak=False, dispatch_uid=uid)
    post_save.connect(tracker.after_save, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(tracker.after_delete, sender=model, weak=False, dispatch_uid=uid)


def track_many(model: type[models.Model], field: str, name_of: Any = str) -> None:
    """Record changes to a many-to-many field (a user's groups: their role) as `changed`, the
    members' names before and after. Only changes made from `model`'s side are seen."""
    through = getattr(model, field).through

    def names(instance: models.Model) -> list[str]:
        return sorted(name_of(member) for member in getattr(instance, field).all())

    def changed(sender: Any, instance: models.Model, action: str, reverse: bool, **kwargs: Any) -> None:
        if reverse or (actor_of(current_request()) is None and current_command() is None):
            return
        if action.startswith("pre_"):
            instance.__dict__[f"_audit_{field}"] = names(instance)
        elif action.startswith("post_"):
            before = instance.__dict__.pop(f"_audit_{field}", None)
            after = names(instance)
            if before is not None and before != after:
                record(None, AuditAction.CHANGED, instance, {field: [before, after]})

    m2m_changed.connect(changed, sender=through, weak=False, dispatch_uid=f"audit:{model._meta.label}.{field}")


def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record(user, AuditAction.LOGIN, user, request=request)


def record_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(user, AuditAction.LOGOUT, user, request=request)


def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already masked the password in `credentials`; only the name is kept.
    name = str(credentials.get("username") or "")[:150] or "(no username)"
    record(None, AuditAction.LOGIN_FAILED, request=request, actor_name=name)
