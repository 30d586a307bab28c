"""/api/checks: list, add, change and remove checks, and read their results.

Reading takes what every read endpoint takes (a session, a read key or a token);
changing takes an admin (session or token). Bad input is a 422 naming the field,
from the same model validation as the admin and the CLI, and nothing is written.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError

from accounts.rights import DELETE, EDIT_CHECKS, VIEW
from checks.models import Check, CheckKind, CheckState
from checks.schemas import CheckIn, CheckOut, CheckPatch, CheckResultOut, CheckResultsOut
from hosts.auth import auth_for
from statusdash.lib.env import parse_duration
from statusdash.lib.schemas import ErrorOut

router = Router(tags=["checks"], auth=auth_for(VIEW))

MAX_RANGE = timedelta(days=90)
# The newest this many results of a range are returned (a 20 s check has 4,320 a day).
MAX_RESULTS = 5000
WRITE_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


def field_errors(error: DjangoValidationError) -> ValidationError:
    """The model's errors as the API's 422: one entry per message, `loc` naming the field."""
    return ValidationError(
        [
            {"loc": ["body", field], "msg": message, "type": "value_error"}
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    )


def find(ref: str) -> Check:
    try:
        return Check.objects.select_related("host").by_ref(ref)
    except Check.DoesNotExist:
        raise HttpError(404, f"no check {ref!r}") from None


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


@router.get("", response=list[CheckOut])
def list_checks(request: HttpRequest, filters: Query[CheckFilters]) -> list[Check]:
    """Every check with its current state; filter by kind, state or tag."""
    checks = Check.objects.select_related("host")
    if filters.kind:
        checks = checks.filter(kind=filters.kind)
    if filters.state:
        checks = checks.filter(state=filters.state)
    found = list(checks)
    if filters.tag:
        # Tags are a JSON list; filtered here so SQLite and PostgreSQL answer alike.
        found = [check for check in found if filters.tag in (check.tags or [])]
    return found


@router.post("", auth=auth_for(EDIT_CHECKS), response={201: CheckOut, **WRITE_ERRORS})
def create_check(request: HttpRequest, body: CheckIn) -> Status:
    """Add a check. It first runs at the scheduler's next look (a few seconds)."""
    check = Check()
    save(check, body.model_dump())
    return Status(201, check)


@router.get("/{ref}", response={200: CheckOut, 404: ErrorOut})
def get_check(request: HttpRequest, ref: str) -> Check:
    """One check, by id or name."""
    return find(ref)


@router.patch("/{ref}", auth=auth_for(EDIT_CHECKS), response={200: CheckOut, **WRITE_ERRORS})
def change_check(request: HttpRequest, ref: str, body: CheckPatch) -> Check:
    """Change the fields given; the others stay."""
    check = find(ref)
    save(check, body.model_dump(exclude_unset=True))
    return check


@router.delete("/{ref}", auth=auth_for(DELETE), response={204: None, **WRITE_ERRORS})
def delete_check(request: HttpRequest, ref: str) -> Status:
    """Remove a check with its results; its alert, if firing, resolves."""
    find(ref).delete()
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
