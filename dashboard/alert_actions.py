"""Acknowledge and silence from the dashboard: POST-only, for operators and admins, CSRF-checked.

Each action answers an HTMX request with the alert's refreshed actions partial
(`templates/alerts/_alert_actions.html`, the one the /alerts/ page includes), and
a plain form post with a redirect back. Bad input is a 4xx JSON error naming the field.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.rights import ACKNOWLEDGE, SILENCE, requires
from alerts import events
from alerts.models import Alert, AlertState, AuditAction, AuditEntry, Silence
from statusdash.lib.env import parse_duration

MAX_SILENCE = timedelta(days=30)
DEFAULT_SILENCE_REASON = "silenced from the dashboard"


def field_error(field: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"detail": [{"loc": ["form", field], "msg": message, "type": "value_error"}]}, status=status)


def find_alert(pk: int) -> Alert | None:
    return Alert.objects.select_related("host", "acknowledged_by").filter(pk=pk).first()


def not_found(pk: int) -> JsonResponse:
    return JsonResponse({"detail": f"alert {pk} not found"}, status=404)


def respond(request: HttpRequest, alert: Alert | None) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        if alert is None:
            return HttpResponse(status=204)
        alert.refresh_from_db()
        return render(request, "alerts/_alert_actions.html", {"alert": alert})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/alerts/"
    return HttpResponseRedirect(target)


@requires(ACKNOWLEDGE)
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = find_alert(pk)
    if alert is None:
        return not_found(pk)
    if alert.state != AlertState.FIRING:
        return JsonResponse({"detail": "a resolved alert cannot be acknowledged"}, status=409)
    alert.acknowledge(request.user)
    return respond(request, alert)


@requires(ACKNOWLEDGE)
@require_POST
def unacknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = find_alert(pk)
    if alert is None:
        return not_found(pk)
    alert.unacknowledge(request.user)
    return respond(request, alert)


@requires(SILENCE)
@require_POST
def silence(request: HttpRequest, pk: int) -> HttpResponse:
    """Silence what the alert is about (its host, its service, or the hub's alerts) for `duration`
    (e.g. 1h), with an optional `reason`."""
    alert = find_alert(pk)
    if alert is None:
        return not_found(pk)
    try:
        seconds = parse_duration(request.POST.get("duration", ""))
    except ValueError as error:
        return field_error("duration", str(error))
    # Compared as a number first: a timedelta of 99999999999999 days overflows.
    if seconds > MAX_SILENCE.total_seconds():
        return field_error("duration", "a silence from the dashboard lasts at most 30d; use the admin for longer")
    duration = timedelta(seconds=seconds)
    reason = request.POST.get("reason", "").strip() or DEFAULT_SILENCE_REASON
    if len(reason) > 200:
        return field_error("reason", "at most 200 characters")
    now = timezone.now()
    silence = Silence.objects.cover(
        alert, starts_at=now, ends_at=now + duration, reason=reason, created_by=request.user
    )
    AuditEntry.record(request.user, AuditAction.SILENCE, alert=alert, silence=silence)
    events.alert_changed(alert)
    return respond(request, alert)


@requires(SILENCE)
@require_POST
def end_silence(request: HttpRequest, pk: int) -> HttpResponse:
    """End a silence early; `alert` (optional) is the alert whose actions to redraw."""
    silence = Silence.objects.filter(pk=pk).first()
    if silence is None:
        return JsonResponse({"detail": f"silence {pk} not found"}, status=404)
    alert = None
    raw_alert = request.POST.get("alert", "")
    if raw_alert and (not raw_alert.isdigit() or (alert := find_alert(int(raw_alert))) is None):
        return field_error("alert", f"no alert {raw_alert!r}")
    silence.end(request.user)
    events.silence_changed(silence)
    return respond(request, alert)
