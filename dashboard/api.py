"""Read API for hosts: list, detail with history, and the overall sentiment."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from accounts.rights import VIEW
from dashboard.overview import describe_hosts, overall_sentiment
from dashboard.schemas import HostDetailOut, HostOut, SentimentOut
from hosts.auth import auth_for
from hosts.models import Host
from metrics.history import history
from statusdash.lib.schemas import ErrorOut

router = Router(tags=["hosts"], auth=auth_for(VIEW))


class HistoryQuery(Schema):
    range: Literal["1h", "6h", "24h", "7d", "30d"] = "1h"


@router.get("", response={200: list[HostOut], 401: ErrorOut, 403: ErrorOut})
def list_hosts(request: HttpRequest) -> list[dict[str, Any]]:
    """Every host with its status, latest metrics and number of firing alerts."""
    return describe_hosts(list(Host.objects.all()))


# exclude_none: "metrics" and "error" are absent, not null, when a service has none (docs/events.md, "The overall sentiment").
@router.get("/sentiment/overall", response={200: SentimentOut, 401: ErrorOut, 403: ErrorOut}, exclude_none=True)
def sentiment(request: HttpRequest) -> dict[str, Any]:
    """Overall system health: `healthy`, `degraded` or `unhealthy`, from the cache (see docs/events.md)."""
    return overall_sentiment()


@router.get("/{ident}", response={200: HostDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def host_detail(request: HttpRequest, ident: str, query: Query[HistoryQuery]) -> dict[str, Any]:
    """One host by id or name, with history downsampled to at most ~600 points a series."""
    numeric = ident.isascii() and ident.isdigit() and len(ident) <= 18
    lookup = {"pk": int(ident)} if numeric else {"name": ident}
    host = get_object_or_404(Host, **lookup)
    detail = describe_hosts([host])[0]
    detail["history"] = history(host, query.range)
    return detail
