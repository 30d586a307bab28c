"""/api/rules: the threshold rules. Anyone who reads may list them; only an admin changes them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from ninja.errors import HttpError

from alerts.models import AlertRule
from alerts.schemas import RuleIn, RuleOut, RulePage, RulePatch, shown_rule
from audit.idempotency import IDEMPOTENT, idempotent
from hosts.auth import ADMIN_AUTH, READ_AUTH
from hosts.models import Host
from statusdash.lib import cursor
from statusdash.lib.etags import CONDITIONAL, etag_for, require_current
from statusdash.lib.fielderrors import field_error, field_errors, not_found
from statusdash.lib.schemas import ONE_ERRORS, READ_ERRORS, WRITE_ERRORS

router = Router(tags=["rules"], auth=READ_AUTH)


def find(rule_id: int, *, lock: bool = False) -> AlertRule:
    rules = AlertRule.objects.select_related("host")
    rule = (rules.select_for_update(of=("self",)) if lock else rules).filter(pk=rule_id).first()
    if rule is None:
        raise not_found("rule", rule_id)
    return rule


def tagged(rule: AlertRule, response: HttpResponse) -> dict[str, Any]:
    shown = shown_rule(rule)
    response["ETag"] = etag_for(shown)
    return shown


def save(rule: AlertRule, changes: dict[str, Any]) -> None:
    """Apply the changes, validate the whole rule as the admin does, store it; 422/409 and nothing written."""
    if "host" in changes:
        name = changes.pop("host")
        rule.host = None if name is None else Host.objects.filter(name=name).first()
        if name is not None and rule.host is None:
            raise field_error("host", f"no host named {name!r}")
    for field, value in changes.items():
        setattr(rule, field, value)
    try:
        rule.full_clean(validate_unique=False)
        with transaction.atomic():
            rule.save()
    except DjangoValidationError as error:
        raise field_errors(error) from None
    except IntegrityError:
        raise HttpError(409, f"a rule named {rule.name!r} exists already") from None


@router.get("", response={200: RulePage, **READ_ERRORS})
def list_rules(request: HttpRequest, query: Query[cursor.PageQuery]) -> dict[str, Any]:
    """Every threshold rule, by name."""
    items, next_cursor = cursor.page(
        AlertRule.objects.select_related("host"), key="name", descending=False, query=query
    )
    return {"items": [shown_rule(r) for r in items], "next_cursor": next_cursor}


@router.post("", auth=ADMIN_AUTH, openapi_extra=IDEMPOTENT, response={201: RuleOut, **WRITE_ERRORS})
def create_rule(request: HttpRequest, body: RuleIn) -> Status:
    """Add a rule; it applies to the next report of each host in scope."""

    def create() -> tuple[int, Any]:
        rule = AlertRule()
        save(rule, body.model_dump())
        return 201, shown_rule(rule)

    return idempotent(request, body.model_dump(mode="json"), create)


@router.get("/{rule_id}", response={200: RuleOut, **ONE_ERRORS})
def get_rule(request: HttpRequest, rule_id: int, response: HttpResponse) -> dict[str, Any]:
    """One rule, and its ETag."""
    return tagged(find(rule_id), response)


@router.patch("/{rule_id}", auth=ADMIN_AUTH, openapi_extra=CONDITIONAL, response={200: RuleOut, **WRITE_ERRORS})
def change_rule(request: HttpRequest, rule_id: int, body: RulePatch, response: HttpResponse) -> dict[str, Any]:
    """Change the fields given. Renaming a rule starts new alerts (alerts are keyed by its name). Honours If-Match."""
    with transaction.atomic():
        rule = find(rule_id, lock=True)
        require_current(request, etag_for(shown_rule(rule)))
        save(rule, body.model_dump(exclude_unset=True))
    return tagged(rule, response)


@router.delete("/{rule_id}", auth=ADMIN_AUTH, openapi_extra=CONDITIONAL, response={204: None, **WRITE_ERRORS})
def delete_rule(request: HttpRequest, rule_id: int) -> Status:
    """Remove a rule. Its firing alerts stay until they resolve or are pruned. Honours If-Match."""
    with transaction.atomic():
        rule = find(rule_id, lock=True)
        require_current(request, etag_for(shown_rule(rule)))
        rule.delete()
    return Status(204, None)
