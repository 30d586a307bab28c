"""/api/hosts/{ident}/keys and /enrollment-tokens: an agent's credentials, issued by an operator.

Secrets are shown once, in the answer that created them; lists show prefixes. The host
routes themselves (list, read, create, change, delete) are in dashboard/api.py, on this
same router, because a host's read answer carries the dashboard's overview of it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Status

from audit.idempotency import IDEMPOTENT, idempotent
from hosts.auth import ADMIN_AUTH, OPERATOR_AUTH, READ_AUTH
from hosts.models import ApiKey, ApiKeyScope, EnrollmentToken, Host
from hosts.schemas import EnrollmentTokenIn, EnrollmentTokenOut, KeyIn, KeyOut, KeyPage, shown_key, shown_token
from statusdash.lib import cursor
from statusdash.lib.fielderrors import not_found
from statusdash.lib.schemas import ONE_ERRORS, WRITE_ERRORS

router = Router(tags=["hosts"], auth=READ_AUTH)


def find_host(ident: str, *, lock: bool = False) -> Host:
    """A host by id or name; 404 otherwise."""
    numeric = ident.isascii() and ident.isdigit() and len(ident) <= 18
    hosts = Host.objects.select_for_update() if lock else Host.objects.all()
    host = hosts.filter(**({"pk": int(ident)} if numeric else {"name": ident})).first()
    if host is None:
        raise not_found("host", ident)
    return host


@router.get("/{ident}/keys", response={200: KeyPage, **ONE_ERRORS})
def list_keys(request: HttpRequest, ident: str, query: Query[cursor.PageQuery]) -> dict[str, Any]:
    """The host's agent keys, newest first, by prefix (secrets are never shown again)."""
    host = find_host(ident)
    keys = ApiKey.objects.select_related("host").filter(host=host, scope=ApiKeyScope.AGENT)
    items, next_cursor = cursor.page(keys, key="created_at", descending=True, query=query)
    return {"items": [shown_key(k) for k in items], "next_cursor": next_cursor}


@router.post("/{ident}/keys", auth=OPERATOR_AUTH, openapi_extra=IDEMPOTENT, response={201: KeyOut, **WRITE_ERRORS})
def create_key(request: HttpRequest, ident: str, body: KeyIn) -> Status:
    """A new agent key for the host. Its secret (`key`) is in this answer only: put it in the agent's config."""
    host = find_host(ident)

    def create() -> tuple[int, Any]:
        key, raw = ApiKey.issue(ApiKeyScope.AGENT, host=host, label=body.label)
        return 201, KeyOut.model_validate(shown_key(key, raw)).model_dump(mode="json")

    return idempotent(request, body.model_dump(mode="json"), create, secrets=("key",))


@router.delete("/{ident}/keys/{key_id}", auth=ADMIN_AUTH, response={200: KeyOut, **WRITE_ERRORS})
def revoke_key(request: HttpRequest, ident: str, key_id: int) -> dict[str, Any]:
    """Revoke one of the host's keys: the agent using it is refused from now on (the row stays, for the record)."""
    host = find_host(ident)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().select_related("host").filter(pk=key_id, host=host).first()
        if key is None:
            raise not_found("key", key_id)
        key.revoke()
    return shown_key(key)


@router.post(
    "/{ident}/enrollment-tokens",
    auth=OPERATOR_AUTH,
    openapi_extra=IDEMPOTENT,
    response={201: EnrollmentTokenOut, **WRITE_ERRORS},
)
def create_enrollment_token(request: HttpRequest, ident: str, body: EnrollmentTokenIn) -> Status:
    """A one-time enrollment token: the agent trades it and a CSR for its client certificate (POST /api/enroll)."""
    host = find_host(ident)

    def create() -> tuple[int, Any]:
        token, raw = EnrollmentToken.issue(host, hours=body.hours)
        return 201, EnrollmentTokenOut.model_validate(shown_token(token, raw)).model_dump(mode="json")

    return idempotent(request, body.model_dump(mode="json"), create, secrets=("token",))
