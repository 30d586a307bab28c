from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.rights import VIEW, requires
from alerts.models import Alert
from dashboard.alert_forms import AlertFilter
from dashboard.views import HtmxHttpRequest

PAGE_SIZE = 50


@requires(VIEW)
@require_GET
def alert_list(request: HtmxHttpRequest) -> HttpResponse:
    """Firing and resolved alerts, firing first; an htmx request gets the rows alone."""
    form = AlertFilter(request.GET)
    context = {"form": form, "nav": "alerts"}
    if not form.is_valid():
        return render(request, "alerts/list.html", {**context, "page": None}, status=400)
    data = form.cleaned_data
    alerts = Alert.objects.select_related("host").order_by("state", "-started_at")
    if data["state"]:
        alerts = alerts.filter(state=data["state"])
    if data["severity"]:
        alerts = alerts.filter(severity=data["severity"])
    if data["host"]:
        alerts = alerts.filter(host__name=data["host"])
    if data["q"]:
        alerts = alerts.filter(
            Q(rule__icontains=data["q"]) | Q(subject__icontains=data["q"]) | Q(message__icontains=data["q"])
        )
    page = Paginator(alerts, PAGE_SIZE).get_page(data["page"] or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context.update(page=page, query=query.urlencode())
    template = "alerts/_alert_list.html" if request.htmx else "alerts/list.html"
    return render(request, template, context)
