from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from alerts.models import Alert, AlertState
from dashboard.cards import cards
from dashboard.charts import chart_tables
from dashboard.forms import VIEWS, OverviewFilter
from dashboard.overview import SORTS, all_tags, describe_hosts, filter_hosts, overall_sentiment, sort_hosts
from hosts.models import Host, latest_client_certificates
from metrics.history import RANGES, history_with_detail


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


RECENT_ALERTS = 10
# From this many hosts the overview opens as a table: a grid of cards stops being readable.
TABLE_FROM_HOSTS = 50
VIEW_SESSION_KEY = "overview_view"


def sentiment_context(hosts: list[Host] | None = None) -> dict[str, Any]:
    """The overview header and services panel: also what a sentiment push renders.

    `hosts`: every host, when the caller has them already (saves a query).
    """
    enabled = list(Host.objects.enabled()) if hosts is None else [h for h in hosts if h.enabled]
    return {
        "sentiment": overall_sentiment(enabled),
        "firing_alerts": Alert.objects.firing().count(),
    }


def overview_view(request: HttpRequest, chosen: str, host_count: int) -> str:
    """Cards or table: the URL's choice (remembered in the session), the remembered one, or by host count."""
    if chosen:
        if request.session.get(VIEW_SESSION_KEY) != chosen:
            request.session[VIEW_SESSION_KEY] = chosen
        return chosen
    remembered = request.session.get(VIEW_SESSION_KEY)
    if remembered in ("cards", "table"):
        return str(remembered)
    return "table" if host_count >= TABLE_FROM_HOSTS else "cards"


def view_links(query: QueryDict) -> list[dict[str, str]]:
    """Cards and table, each with the filter and sort kept."""
    links = []
    for value, _label in VIEWS:
        params = query.copy()
        params["view"] = value
        links.append({"view": value, "url": "?" + params.urlencode()})
    return links


# aria-sort of each column in its natural order (overview.SORTS): what a screen reader announces.
NATURAL_ORDER = {"name": "ascending", "status": "other", "last_seen": "ascending"}
FLIPPED = {"ascending": "descending", "descending": "ascending", "other": "other"}


def table_columns(query: QueryDict, sort: str) -> list[dict[str, str]]:
    """The table's headers: each a link sorting by its column (again: reversed) with the filter kept."""
    columns = []
    for key, label in SORTS.items():
        params = query.copy()
        params["sort"] = f"-{key}" if sort == key else key
        natural = NATURAL_ORDER.get(key, "descending")
        state = natural if sort == key else FLIPPED[natural] if sort == f"-{key}" else "none"
        columns.append({"key": key, "label": label, "url": "?" + params.urlencode(), "sort": state})
    return columns


@login_required
@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    """The hosts as cards or a table. An htmx request (the filter form, a reconnect) gets the
    hosts alone, with the header swapped out-of-band, so one URL serves the page and its fragment."""
    form = OverviewFilter(request.GET)
    hosts = list(Host.objects.all())
    context: dict[str, Any] = {
        **sentiment_context(hosts),
        "form": form,
        "tags": all_tags(hosts),
        "total": len(hosts),
        "nav": "overview",
    }
    if not form.is_valid():
        context.update(hosts=[], filtered=True, view="cards")
        return render(request, "hosts/overview.html", context, status=400)
    data = form.cleaned_data
    sort = data["sort"] or "name"
    view = overview_view(request, data["view"], len(hosts))
    described = describe_hosts(hosts)
    shown = sort_hosts(filter_hosts(described, status=data["status"], tag=data["tag"], search=data["q"]), sort)
    context.update(hosts=cards(shown), filtered=form.is_filtering(), view=view, sort=sort)
    context["view_links"] = view_links(request.GET)
    if view == "table":
        context["columns"] = table_columns(request.GET, sort)
    if request.htmx:
        return render(request, "hosts/_overview_fragment.html", {**context, "oob": True})
    return render(request, "hosts/overview.html", context)


def host_page_context(host: Host) -> dict[str, Any]:
    """The host page's live parts: summary and alerts (the page and the push render these)."""
    alerts = Alert.objects.filter(host=host)
    return {
        "host": cards(describe_hosts([host]))[0],
        "certificate": latest_client_certificates([host]).get(host.pk),
        "firing": list(alerts.filter(state=AlertState.FIRING)),
        "recent": list(alerts.filter(state=AlertState.RESOLVED)[:RECENT_ALERTS]),
    }


def _range_or_error(request: HttpRequest) -> tuple[str, dict[str, Any] | None]:
    range_key = request.GET.get("range", "1h")
    if range_key in RANGES:
        return range_key, None
    return range_key, {
        "detail": [
            {"loc": ["query", "range"], "msg": f"range must be one of {', '.join(RANGES)}", "type": "value_error"}
        ]
    }


@login_required
@require_GET
def host_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    host = get_object_or_404(Host, name=name)
    range_key, error = _range_or_error(request)
    context = {**host_page_context(host), "nav": "overview", "ranges": list(RANGES), "range": range_key}
    if error:
        return render(request, "hosts/host.html", {**context, "range_error": error["detail"][0]["msg"]}, status=400)
    if request.htmx:
        return render(request, "hosts/_host_live.html", {**context, "oob": True})
    history = history_with_detail(host, range_key)
    return render(request, "hosts/host.html", {**context, "history": history, "charts": chart_tables(history)})


@login_required
@require_GET
def host_history(request: HttpRequest, name: str) -> JsonResponse:
    """Chart data for one range: what the page's charts load when the range changes or after a reconnect."""
    host = Host.objects.filter(name=name).first()
    if host is None:
        return JsonResponse({"detail": f"no host named {name!r}"}, status=404)
    range_key, error = _range_or_error(request)
    if error:
        return JsonResponse(error, status=400)
    return JsonResponse(history_with_detail(host, range_key))
