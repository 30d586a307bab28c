"""/api/silences: maintenance windows. List, create (by host, tag, service, rule or matchers),
extend, expire early. A silence holds notifications back; alerts still fire and are recorded.

Silences are the hub's maintenance windows (there is no separate model), so there is no
/api/maintenance: a deploy window is a silence with a start and an end.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.errors import HttpError

from alerts import events
from alerts.models import AuditAction, AuditEntry, Silence
from alerts.schemas import SilenceFilters, SilenceIn, SilenceOut, SilencePage, SilencePatch, shown_silence
from audit.idempotency import IDEMPOTENT, idempotent
from hosts.auth import OPERATOR_AUTH, READ_AUTH, caller
from hosts.models import Host
from statusdash.lib import cursor
from statusdash.lib.etags import CONDITIONAL, etag_for, require_current
from statusdash.lib.fielderrors import field_error, field_errors, not_found
from statusdash.lib.schemas import ONE_ERRORS, READ_ERRORS, WRITE_ERRORS

router = Router(tags=["silences"], auth=READ_AUTH)


def find(silence_id: int, *, lock: bool = False) -> Silence:
    silences = Silence.objects.select_related("created_by").prefetch_related("hosts")
    silence = (silences.select_for_update(of=("self",)) if lock else silences).filter(pk=silence_id).first()
    if silence is None:
        raise not_found("silence", silence_id)
    return silence


def tagged(silence: Silence, response: HttpResponse) -> dict[str, Any]:
    shown = shown_silence(find(silence.pk), timezone.now())
    response["ETag"] = etag_for(shown)
    return shown


@router.get("", response={200: SilencePage, **READ_ERRORS})
def list_silences(request: HttpRequest, filters: Query[SilenceFilters]) -> dict[str, Any]:
    """Silences, latest start first; `active=true` for those in force now."""
    now = timezone.now()
    silences = Silence.objects.select_related("created_by").prefetch_related("hosts")
    if filters.active is True:
        silences = silences.filter(starts_at__lte=now, ends_at__gt=now)
    elif filters.active is False:
        silences = silences.exclude(starts_at__lte=now, ends_at__gt=now)
    items, next_cursor = cursor.page(silences, key="starts_at", descending=True, query=filters)
    return {"items": [shown_silence(s, now) for s in items], "next_cursor": next_cursor}


def build(body: SilenceIn, user: Any) -> Silence:
    """A silence from the body, validated in full before anything is written."""
    if not (body.host or body.tag or body.service or body.rule or body.matchers or body.hub):
        raise field_error("host", "say what to silence: host, tag, service, rule, matchers or hub")
    if (body.ends_at is None) == (body.duration_seconds is None):
        raise field_error("ends_at", "give either ends_at or duration_seconds")
    host = None
    if body.host:
        host = Host.objects.filter(name=body.host).first()
        if host is None:
            raise field_error("host", f"no host named {body.host!r}")
    starts_at = body.starts_at or timezone.now()
    ends_at = body.ends_at or starts_at + timedelta(seconds=body.duration_seconds or 0)
    if ends_at <= timezone.now():
        raise field_error("ends_at" if body.ends_at else "duration_seconds", "the silence would be over already")
    silence = Silence(
        tags=[body.tag] if body.tag else [],
        services=[body.service] if body.service else [],
        rules=[body.rule] if body.rule else [],
        matchers=[m.model_dump() for m in body.matchers or []],
        hub=body.hub,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=body.reason,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    try:
        silence.full_clean(exclude=["created_by"])
    except DjangoValidationError as error:
        raise field_errors(error, renamed={"tags": "tag", "services": "service", "rules": "rule"}) from None
    silence.save()
    if host is not None:
        silence.hosts.add(host)
    return silence


@router.post("", auth=OPERATOR_AUTH, openapi_extra=IDEMPOTENT, response={201: SilenceOut, **WRITE_ERRORS})
def create_silence(request: HttpRequest, body: SilenceIn) -> Status:
    """Silence a host, a tag, a service, a rule or what matchers match, for a while (a deploy window)."""

    def create() -> tuple[int, Any]:
        with transaction.atomic():
            silence = build(body, caller(request))
            AuditEntry.record(caller(request), AuditAction.SILENCE, silence=silence)
            events.silence_changed(silence)
        return 201, SilenceOut.model_validate(shown_silence(find(silence.pk), timezone.now())).model_dump(mode="json")

    return idempotent(request, body.model_dump(mode="json"), create)


@router.get("/{silence_id}", response={200: SilenceOut, **ONE_ERRORS})
def get_silence(request: HttpRequest, silence_id: int, response: HttpResponse) -> dict[str, Any]:
    """One silence, and its ETag."""
    return tagged(find(silence_id), response)


@router.patch(
    "/{silence_id}", auth=OPERATOR_AUTH, openapi_extra=CONDITIONAL, response={200: SilenceOut, **WRITE_ERRORS}
)
def change_silence(request: HttpRequest, silence_id: int, body: SilencePatch, response: HttpResponse) -> dict[str, Any]:
    """Extend (or shorten) a silence with a new `ends_at`, or change its reason. Honours If-Match."""
    with transaction.atomic():
        silence = find(silence_id, lock=True)
        require_current(request, etag_for(shown_silence(silence, timezone.now())))
        if body.ends_at is not None:
            if body.ends_at <= timezone.now():
                raise field_error("ends_at", "must be in the future; POST .../expire ends a silence now")
            if body.ends_at <= silence.starts_at:
                raise field_error("ends_at", "must be after the silence starts")
            silence.ends_at = body.ends_at
        if body.reason is not None:
            silence.reason = body.reason
        silence.save(update_fields=["ends_at", "reason"])
        AuditEntry.record(caller(request), AuditAction.CHANGE_SILENCE, silence=silence)
        events.silence_changed(silence)
    return tagged(silence, response)


@router.post(
    "/{silence_id}/expire", auth=OPERATOR_AUTH, openapi_extra=CONDITIONAL, response={200: SilenceOut, **WRITE_ERRORS}
)
def expire_silence(request: HttpRequest, silence_id: int, response: HttpResponse) -> dict[str, Any]:
    """End a silence now (one that has not started yet ends before it starts). Honours If-Match."""
    with transaction.atomic():
        silence = find(silence_id, lock=True)
        require_current(request, etag_for(shown_silence(silence, timezone.now())))
        if silence.ends_at <= timezone.now():
            raise HttpError(409, "this silence is over already")
        silence.end(caller(request))
        events.silence_changed(silence)
    return tagged(silence, response)
