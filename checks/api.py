"""/api/checks: list, add, change and remove checks, and read their results.

Reading takes what every read endpoint takes (a session, a read key or a token);
adding and changing a check takes an operator, removing one an admin (session or token).
Bad input is a 422 naming the field, from the same model validation as the admin and the
CLI, and nothing is written. As every route (docs/api.md): ETag on a read of one check,
If-Match on changes, Idempotency-Key on adding, cursor paging on the list when asked.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError

from accounts.rights import DELETE, EDIT_CHECKS, VIEW
from audit.idempotency import IDEMPOTENT, idempotent
from checks.models import Check, CheckKind, CheckState
from checks.schemas import CheckIn, CheckOut, CheckPatch, CheckResultOut, CheckResultsOut
from hosts.auth import auth_for
from statusdash.lib import cursor
from statusdash.lib.env import parse_duration
from statusdash.lib.etags import CONDITIONAL, etag_for, require_current
from statusdash.lib.schemas import ErrorOut

router = Router(tags=["checks"], auth=auth_for(VIEW))

MAX_RANGE = timedelta(days=90)
# The newest this many results of a range are returned (a 20 s check has 4,320 a day).
MAX_RESULTS = 5000
WRITE_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 412: ErrorOut}


def field_errors(error: DjangoValidationError) -> ValidationError:
    """The model's errors as the API's 422: one entry per message, `loc` naming the field."""
    return ValidationError(
        [
            {"loc": ["body", field], "msg": message, "type": "value_error"}
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    )


def find(ref: str, *, lock: bool = False) -> Check:
    checks = Check.objects.select_related("host")
    try:
        return (checks.select_for_update(of=("self",)) if lock else checks).by_ref(ref)
    except (Check.DoesNotExist, ValueError, OverflowError):  # "²".isdigit(); ids past the column's range
        raise HttpError(404, f"no check {ref!r}") from None


def shown(check: Check) -> dict[str, Any]:
    return CheckOut.from_orm(check).model_dump(mode="json")


def etag_of(check: Check) -> str:
    # Secrets are not shown; a new one is still a change another script must not overwrite blindly.
    secrets = hashlib.sha256(f"{check.username}\0{check.password}\0{check.bearer_token}".encode()).hexdigest()
    return etag_for({**shown(check), "secrets": secrets})


def save(check: Check, changes: dict[str, object]) -> None:
    try:
        with transaction.atomic():
            check.apply_changes(changes)
    except DjangoValidationError as error:
        raise field_errors(error) from None
    except IntegrityError:
        # Another request took the name between validation and the insert.
        raise HttpError(409, f"a check named {check.name!r} exists already") from None


class CheckFilters(Schema):
    kind: CheckKind | None = None
    state: CheckState | None = None
    tag: str | None = None
    limit: int | None = Field(None, ge=1, le=cursor.MAX_LIMIT, description="Rows per page; absent: every check.")
    cursor: str | None = Field(None, max_length=500, description="From the `Link: rel=next` of the page before.")


@router.get("", response={200: list[CheckOut], 401: ErrorOut, 403: ErrorOut})
def list_checks(request: HttpRequest, filters: Query[CheckFilters], response: HttpResponse) -> list[Check]:
    """Every check by name, with its current state; filter by kind, state or tag.

    With `limit`, one page: the next is in the `Link: <…>; rel="next"` header (and `X-Next-Cursor`).
    A tag filter applies within the page, so a page may hold fewer than `limit`.
    """
    checks = Check.objects.select_related("host")
    if filters.kind:
        checks = checks.filter(kind=filters.kind)
    if filters.state:
        checks = checks.filter(state=filters.state)
    if filters.limit is None and filters.cursor is None:
        found = list(checks.order_by("name", "pk"))
    else:
        page = cursor.PageQuery(limit=filters.limit or cursor.DEFAULT_LIMIT, cursor=filters.cursor)
        found, next_cursor = cursor.page(checks, key="name", descending=False, query=page)
        if next_cursor:
            query = {k: v for k, v in filters.model_dump(mode="json").items() if v is not None}
            query.update(limit=page.limit, cursor=next_cursor)
            response["X-Next-Cursor"] = next_cursor
            response["Link"] = f'<{request.path}?{urlencode(query)}>; rel="next"'
    if filters.tag:
        # Tags are a JSON list; filtered here so SQLite and PostgreSQL answer alike.
        found = [check for check in found if filters.tag in (check.tags or [])]
    return found


@router.post("", auth=auth_for(EDIT_CHECKS), openapi_extra=IDEMPOTENT, response={201: CheckOut, **WRITE_ERRORS})
def create_check(request: HttpRequest, body: CheckIn) -> Status:
    """Add a check. It first runs at the scheduler's next look (a few seconds)."""

    def create() -> tuple[int, Any]:
        check = Check()
        save(check, body.model_dump())
        return 201, shown(check)

    return idempotent(request, body.model_dump(mode="json"), create)


@router.get("/{ref}", response={200: CheckOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def get_check(request: HttpRequest, ref: str, response: HttpResponse) -> Check:
    """One check, by id or name, and its ETag."""
    check = find(ref)
    response["ETag"] = etag_of(check)
    return check


@router.patch("/{ref}", auth=auth_for(EDIT_CHECKS), openapi_extra=CONDITIONAL, response={200: CheckOut, **WRITE_ERRORS})
def change_check(request: HttpRequest, ref: str, body: CheckPatch, response: HttpResponse) -> Check:
    """Change the fields given; the others stay. Honours If-Match."""
    with transaction.atomic():
        check = find(ref, lock=True)
        require_current(request, etag_of(check))
        save(check, body.model_dump(exclude_unset=True))
    response["ETag"] = etag_of(check)
    return check


@router.delete("/{ref}", auth=auth_for(DELETE), openapi_extra=CONDITIONAL, response={204: None, **WRITE_ERRORS})
def delete_check(request: HttpRequest, ref: str) -> Status:
    """Remove a check with its results; its alert, if firing, resolves. Honours If-Match."""
    with transaction.atomic():
        check = find(ref, lock=True)
        require_current(request, etag_of(check))
        check.delete()
    return Status(204, None)


@router.get("/{ref}/results", response={200: CheckResultsOut, 404: ErrorOut})
def check_results(request: HttpRequest, ref: str, range: str = "24h") -> CheckResultsOut:
    """The check's results over `range` (like 90s, 15m, 1h, 7d; at most 90d), newest first."""
    check = find(ref)
    try:
        span = timedelta(seconds=parse_duration(range))
    except ValueError as error:
        raise ValidationError([{"loc": ["query", "range"], "msg": str(error), "type": "value_error"}]) from None
    if span > MAX_RANGE:
        raise ValidationError([{"loc": ["query", "range"], "msg": "at most 90d", "type": "value_error"}])
    since = timezone.now() - span
    rows = list(check.results.filter(at__gte=since).order_by("-at", "-id")[: MAX_RESULTS + 1])
    return CheckResultsOut(
        check=check.name,
        since=since,
        results=[CheckResultOut.from_row(row) for row in rows[:MAX_RESULTS]],
        truncated=len(rows) > MAX_RESULTS,
    )
