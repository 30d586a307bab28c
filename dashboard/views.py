from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from accounts.rights import VIEW, requires
from alerts.models import Alert, AlertState
from dashboard import groups, paging
from dashboard.cards import cards
from dashboard.charts import chart_tables
from dashboard.forms import GROUPINGS, VIEWS, OverviewFilter
from dashboard.fragments import render_fragments
from dashboard.overview import (
    METRIC_SORTS,
    OUTLINE_FIELDS,
    SORTS,
    all_tags,
    describe_hosts,
    filter_hosts,
    firing_counts,
    outline_hosts,
    overall_sentiment,
    sort_hosts,
    with_latest,
)
from dashboard.paging import Window
from hosts.models import Host, HostStatus, latest_client_certificates
from metrics.history import RANGES, history_with_detail


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


RECENT_ALERTS = 10
# From this many hosts the overview opens as a table: a grid of cards stops being readable.
TABLE_FROM_HOSTS = 50
VIEW_SESSION_KEY = "overview_view"
GROUP_SESSION_KEY = "overview_group"


def sentiment_context(counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The overview header and services panel: also what a sentiment push renders.

    `counts`: the enabled hosts per status, when the caller has them already (saves a query).
    """
    if counts is None:
        return {"sentiment": overall_sentiment(list(Host.objects.enabled())), "firing_alerts": _firing_total()}
    return {"sentiment": overall_sentiment(counts=counts), "firing_alerts": _firing_total()}


def _firing_total() -> int:
    return Alert.objects.firing().count()


def remembered(request: HttpRequest, key: str, chosen: str, choices: list[tuple[str, str]], default: str) -> str:
    """The URL's choice (remembered in the session), else the remembered one, else `default`."""
    if chosen:
        if request.session.get(key) != chosen:
            request.session[key] = chosen
        return chosen
    stored = request.session.get(key)
    return str(stored) if stored in dict(choices) else default


def choice_links(query: QueryDict, field: str, choices: list[tuple[str, str]]) -> list[dict[str, str]]:
    """A link per choice of `field`, keeping the filter and sort; back to page 1 (pages differ in size)."""
    links = []
    for value, label in choices:
        params = query.copy()
        params[field] = value
        params.pop("page", None)
        links.append({"value": value, "label": label, "url": "?" + params.urlencode()})
    return links


def page_links(query: QueryDict, page: Window) -> dict[str, Any]:
    def url(number: int) -> str:
        params = query.copy()
        params["page"] = str(number)
        return "?" + params.urlencode()

    return {
        "number": page.number,
        "pages": page.pages,
        "first": url(1) if page.number > 1 else "",
        "previous": url(page.number - 1) if page.number > 1 else "",
        "next": url(page.number + 1) if page.number < page.pages else "",
        "last": url(page.pages) if page.number < page.pages else "",
    }


# aria-sort of each column in its natural order (overview.SORTS): what a screen reader announces.
NATURAL_ORDER = {"name": "ascending", "status": "other", "last_seen": "ascending"}
FLIPPED = {"ascending": "descending", "descending": "ascending", "other": "other"}


def table_columns(query: QueryDict, sort: str) -> list[dict[str, str]]:
    """The table's headers: each a link sorting by its column (again: reversed) with the filter kept."""
    columns = []
    for key, label in SORTS.items():
        params = query.copy()
        params["sort"] = f"-{key}" if sort == key else key
        params.pop("page", None)
        natural = NATURAL_ORDER.get(key, "descending")
        state = natural if sort == key else FLIPPED[natural] if sort == f"-{key}" else "none"
        columns.append({"key": key, "label": label, "url": "?" + params.urlencode(), "sort": state})
    return columns


def sections(
    on_page: list[tuple[str | None, dict[str, Any]]],
    fragments: list[SafeString],
    headers: dict[str, Any],
    before: str | None,
) -> list[dict[str, Any]]:
    """The page's hosts as runs of one group each (one run without grouping), with their header.

    `before`: the group of the last host on the previous page; a group that goes on across
    pages says it is continued.
    """
    runs: list[dict[str, Any]] = []
    for (tag, _host), html in zip(on_page, fragments, strict=True):
        if not runs or runs[-1]["tag"] != tag:
            group = headers.get(tag) if tag is not None else None
            continued = not runs and tag is not None and tag == before
            runs.append({"tag": tag, "group": group, "continued": continued, "fragments": []})
        runs[-1]["fragments"].append(html)
    return runs


@requires(VIEW)
@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    """The hosts as cards or a table, grouped by tag or not, a page at a time. An htmx request
    (the filter form, a reconnect) gets the hosts alone, with the header swapped out-of-band,
    so one URL serves the page and its fragment."""
    form = OverviewFilter(request.GET)
    alerts = firing_counts()
    outlined = outline_hosts(list(Host.objects.values(*OUTLINE_FIELDS)), alerts)
    context: dict[str, Any] = {
        **sentiment_context(HostStatus.tally(host["status"] for host in outlined if host["enabled"])),
        "form": form,
        "tags": all_tags(host["tags"] for host in outlined),
        "total": len(outlined),
        "nav": "overview",
    }
    if not form.is_valid():
        return _refused(request, context)
    data = form.cleaned_data
    sort = data["sort"] or "name"
    view = remembered(
        request, VIEW_SESSION_KEY, data["view"], VIEWS, "table" if len(outlined) >= TABLE_FROM_HOSTS else "cards"
    )
    grouping = remembered(request, GROUP_SESSION_KEY, data["group"], GROUPINGS, "none")
    if sort.lstrip("-") in METRIC_SORTS:
        with_latest(outlined)
    shown = sort_hosts(filter_hosts(outlined, status=data["status"], tag=data["tag"], search=data["q"]), sort)
    entries: list[tuple[str | None, dict[str, Any]]]
    if grouping == "tag":
        entries = [(tag, host) for tag, members in groups.group(shown) for host in members]
    else:
        entries = [(None, host) for host in shown]
    try:
        page = paging.window(len(entries), data["page"] or 1, paging.PAGE_SIZES[view])
    except paging.PageOutOfRange as error:
        form.add_error("page", str(error))
        return _refused(request, context)
    on_page = entries[page.start : page.end]
    page_hosts = list(Host.objects.filter(pk__in={outline["id"] for _, outline in on_page}))
    described = {d["id"]: d for d in describe_hosts(page_hosts, alerts)}
    html = render_fragments([described[outline["id"]] for _, outline in on_page], "row" if view == "table" else "card")
    headers = groups.summaries(outlined) if grouping == "tag" else {}
    context.update(
        sections=sections(on_page, html, headers, entries[page.start - 1][0] if page.start else None),
        matched=len(shown),
        filtered=form.is_filtering(),
        view=view,
        group=grouping,
        sort=sort,
        pager=page_links(request.GET, page),
        view_links=choice_links(request.GET, "view", VIEWS),
        group_links=choice_links(request.GET, "group", GROUPINGS),
    )
    if view == "table":
        context["columns"] = table_columns(request.GET, sort)
    if request.htmx:
        return render(request, "hosts/_overview_fragment.html", {**context, "oob": True})
    return render(request, "hosts/overview.html", context)


def _refused(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """A filter that cannot be applied: 400, the page with the form's errors naming the field."""
    context.update(sections=[], matched=0, filtered=True, view="cards", group="none")
    return render(request, "hosts/overview.html", context, status=400)


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


@requires(VIEW)
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


@requires(VIEW)
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
