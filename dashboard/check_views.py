"""The checks pages: every check with its state and uptime, one check's history, and the
operators' add and edit form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.rights import EDIT_CHECKS, VIEW, requires
from checks.history import RANGES, daily_uptime, latency, recent_failures, uptime_last_day
from checks.models import Check
from dashboard.check_forms import CheckFilter, CheckForm
from dashboard.sparkline import sparkline
from dashboard.views import HtmxHttpRequest

UPTIME_DAYS = 30


def check_rows(checks: list[Check]) -> list[dict[str, Any]]:
    """What a row shows for each check: two queries whatever their number (the checks, the uptimes)."""
    uptimes = uptime_last_day([c.pk for c in checks])
    return [{"check": c, "uptime": uptimes.get(c.pk)} for c in checks]


def check_row_context(check_id: int) -> dict[str, Any] | None:
    """One row, for a live push."""
    check = Check.objects.select_related("host").filter(pk=check_id).first()
    return None if check is None else {"row": check_rows([check])[0]}


def all_tags(checks: list[Check]) -> list[str]:
    return sorted({tag for check in checks for tag in check.tags})


@requires(VIEW)
@require_GET
def check_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every check; the filter (state, tag) is in the URL, and an htmx request gets the rows alone."""
    form = CheckFilter(request.GET)
    checks = list(Check.objects.select_related("host"))
    context: dict[str, Any] = {"form": form, "nav": "checks", "tags": all_tags(checks), "total": len(checks)}
    if not form.is_valid():
        return render(request, "checks/list.html", {**context, "rows": []}, status=400)
    state, tag = form.cleaned_data["state"], form.cleaned_data["tag"]
    shown = [c for c in checks if (not state or c.state == state) and (not tag or tag in c.tags)]
    context["rows"] = check_rows(shown)
    template = "checks/_check_rows.html" if request.htmx else "checks/list.html"
    return render(request, template, context)


def check_page_context(check: Check) -> dict[str, Any]:
    """The live part of a check's page (the page and the push render it)."""
    return {"row": check_rows([check])[0], "failures": recent_failures(check)}


def _check_or_404(name: str) -> Check:
    check = Check.objects.select_related("host").filter(name=name).first()
    if check is None:
        raise Http404(f"no check named {name!r}")
    return check


@requires(VIEW)
@require_GET
def check_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    check = _check_or_404(name)
    range_key = request.GET.get("range", "24h")
    context: dict[str, Any] = {**check_page_context(check), "nav": "checks", "ranges": list(RANGES), "range": range_key}
    if range_key not in RANGES:
        context["range_error"] = f"range must be one of {', '.join(RANGES)}"
        return render(request, "checks/detail.html", context, status=400)
    if request.htmx:
        return render(request, "checks/_check_live.html", {**context, "oob": True})
    history = latency(check, range_key)
    today = timezone.now().date()
    per_day = daily_uptime([check.pk], UPTIME_DAYS).get(check.pk, {})
    days = []
    for n in range(UPTIME_DAYS - 1, -1, -1):
        day = today - timedelta(days=n)
        runs, up = per_day.get(day, (0, 0))
        days.append({"day": day, "runs": runs, "uptime": up / runs if runs else None})
    context.update(
        history=history,
        chart=sparkline([(p["t"], p["avg"]) for p in history["points"]], width=720, height=160),
        days=days,
    )
    return render(request, "checks/detail.html", context)


# Viewers see no edit controls; a forged POST (or GET of the form) is refused by requires().
@requires(EDIT_CHECKS)
@require_http_methods(["GET", "POST"])
def check_edit(request: HttpRequest, name: str | None = None) -> HttpResponse:
    """Add a check (no name) or edit one. Errors come back by field, from Check's own validation."""
    check = _check_or_404(name) if name else Check()
    # The form posts back to the URL it came from, even when a rename was refused.
    context: dict[str, Any] = {"editing": name, "nav": "checks"}
    if request.method == "GET":
        form = CheckForm.for_check(check) if name else CheckForm()
        return render(request, "checks/form.html", {**context, "form": form})
    form = CheckForm.for_check(check, request.POST) if name else CheckForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                check.apply_changes(form.changes())
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            return redirect("check", name=check.name)
    return render(request, "checks/form.html", {**context, "form": form}, status=400)
