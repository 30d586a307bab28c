"""/api/hosts: list, read (with history), create, change and delete hosts, and the overall sentiment.

One router with hosts/api.py's (keys and enrollment tokens): routes of one path must share a
router. The reads live here because they carry the dashboard's overview of a host; the
writes because `public` is the status page's listing (services.PublicHost).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Schema, Status
from ninja.errors import HttpError

from audit.idempotency import IDEMPOTENT, idempotent
from dashboard.overview import describe_hosts, overall_sentiment
from dashboard.schemas import HostDetailOut, HostOut, SentimentOut
from hosts.api import find_host, router
from hosts.auth import ADMIN_AUTH, OPERATOR_AUTH
from hosts.models import Host
from hosts.schemas import HostIn, HostPatch, HostSettingsOut, shown_settings
from metrics.history import history
from services.models import PublicHost
from statusdash.lib import cursor
from statusdash.lib.etags import CONDITIONAL, etag_for, require_current
from statusdash.lib.fielderrors import field_errors
from statusdash.lib.schemas import ONE_ERRORS, READ_ERRORS, WRITE_ERRORS

__all__ = ["router"]


class HistoryQuery(Schema):
    range: Literal["1h", "6h", "24h", "7d", "30d"] = "1h"


class HostListQuery(Schema):
    limit: int | None = Field(None, ge=1, le=cursor.MAX_LIMIT, description="Rows per page; absent: every host.")
    cursor: str | None = Field(None, max_length=500, description="From the `Link: rel=next` of the page before.")


def settings_etag(host: Host) -> str:
    return etag_for(shown_settings(host, PublicHost.objects.filter(host=host).exists()))


@router.get("", response={200: list[HostOut], **READ_ERRORS})
def list_hosts(request: HttpRequest, query: Query[HostListQuery], response: HttpResponse) -> list[dict[str, Any]]:
    """Every host, by name, with its status, latest metrics and number of firing alerts.

    With `limit`, one page: the next is in the `Link: <…>; rel="next"` header (and `X-Next-Cursor`).
    """
    if query.limit is None and query.cursor is None:
        return describe_hosts(list(Host.objects.order_by("name", "pk")))
    page = cursor.PageQuery(limit=query.limit or cursor.DEFAULT_LIMIT, cursor=query.cursor)
    hosts, next_cursor = cursor.page(Host.objects.all(), key="name", descending=False, query=page)
    if next_cursor:
        response["X-Next-Cursor"] = next_cursor
        response["Link"] = f'<{request.path}?{urlencode({"limit": page.limit, "cursor": next_cursor})}>; rel="next"'
    return describe_hosts(hosts)


@router.post("", auth=OPERATOR_AUTH, openapi_extra=IDEMPOTENT, response={201: HostSettingsOut, **WRITE_ERRORS})
def create_host(request: HttpRequest, body: HostIn) -> Status:
    """Add a host before its agent reports; then give it a key or an enrollment token."""

    def create() -> tuple[int, Any]:
        host = Host(**body.model_dump(exclude={"public"}))
        save(host, body.public)
        return 201, HostSettingsOut.model_validate(shown_settings(host, body.public)).model_dump(mode="json")

    return idempotent(request, body.model_dump(mode="json"), create)


def save(host: Host, public: bool | None) -> None:
    try:
        host.full_clean(validate_unique=False)
        with transaction.atomic():
            host.save()
            if public is True:
                PublicHost.objects.get_or_create(host=host)
            elif public is False:
                PublicHost.objects.filter(host=host).delete()
    except DjangoValidationError as error:
        raise field_errors(error) from None
    except IntegrityError:
        raise HttpError(409, f"a host named {host.name!r} exists already") from None


# exclude_none: "metrics" and "error" are absent, not null, when a service has none (docs/events.md, "The overall sentiment").
@router.get("/sentiment/overall", response={200: SentimentOut, **READ_ERRORS}, exclude_none=True)
def sentiment(request: HttpRequest) -> dict[str, Any]:
    """Overall system health: `healthy`, `degraded` or `unhealthy`, from the cache (see docs/events.md)."""
    return overall_sentiment()


@router.get("/{ident}", response={200: HostDetailOut, **ONE_ERRORS})
def host_detail(request: HttpRequest, ident: str, query: Query[HistoryQuery], response: HttpResponse) -> dict[str, Any]:
    """One host by id or name, with history downsampled to at most ~600 points a series.

    Its `ETag` tags the host's settings (what PATCH changes), not its ever-changing metrics.
    """
    host = find_host(ident)
    detail = describe_hosts([host])[0]
    detail["history"] = history(host, query.range)
    response["ETag"] = settings_etag(host)
    return detail


@router.patch(
    "/{ident}", auth=OPERATOR_AUTH, openapi_extra=CONDITIONAL, response={200: HostSettingsOut, **WRITE_ERRORS}
)
def change_host(request: HttpRequest, ident: str, body: HostPatch, response: HttpResponse) -> dict[str, Any]:
    """Change the fields given: tags, display name, description, enabled, public. Honours If-Match."""
    changes = body.model_dump(exclude_unset=True)
    public = changes.pop("public", None)
    with transaction.atomic():
        host = find_host(ident, lock=True)
        require_current(request, settings_etag(host))
        for field, value in changes.items():
            if value is None:
                raise field_errors(DjangoValidationError({field: "may not be null"}))
            setattr(host, field, value)
        save(host, public)
    response["ETag"] = settings_etag(host)
    return shown_settings(host, PublicHost.objects.filter(host=host).exists())


@router.delete("/{ident}", auth=ADMIN_AUTH, openapi_extra=CONDITIONAL, response={204: None, **WRITE_ERRORS})
def delete_host(request: HttpRequest, ident: str) -> Status:
    """Delete a host with its samples, alerts and keys; its certificates are revoked first. Honours If-Match."""
    with transaction.atomic():
        host = find_host(ident, lock=True)
        require_current(request, settings_etag(host))
        host.delete()
    return Status(204, None)
