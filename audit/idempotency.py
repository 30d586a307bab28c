"""`Idempotency-Key` on every POST that creates: a retried request creates one object.

The first request with a key runs and its answer (status and body) is stored with the key;
a retry with the same key and the same body gets that answer again, without running. The
same key with a different body (or another endpoint) is a client bug and a 422 naming the
header. Keys belong to the caller (a user or an API key) and are kept IDEMPOTENCY_KEY_HOURS.

The answer is stored in the same transaction as the object it created: if creating fails,
nothing is stored and a retry runs afresh; if two requests with one key race, the unique
index makes the second wait for the first and then read its answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Status
from ninja.errors import ValidationError

from audit.models import IdempotentRequest

HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_HOURS = 24
KEY_MAX_LENGTH = 200

# For the OpenAPI document: every create declares the header (`openapi_extra=IDEMPOTENT`).
HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": KEY_MAX_LENGTH},
    "description": (
        "Any unique string (a UUID). A retry with the same key and body returns the first answer "
        f"and creates nothing; kept {IDEMPOTENCY_KEY_HOURS} h. The same key with another body: 422."
    ),
}


IDEMPOTENT = {"parameters": [HEADER_DOC]}


def header_error(message: str) -> ValidationError:
    return ValidationError([{"loc": ["header", HEADER], "msg": message, "type": "value_error"}])


def owner_of(request: HttpRequest) -> str:
    who = getattr(request, "auth", None)
    if who is not None and getattr(who, "is_authenticated", False):
        return f"user:{who.pk}"
    return f"{type(who).__name__.lower()}:{getattr(who, 'pk', '-')}"


def fingerprint(request: HttpRequest, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def idempotent(
    request: HttpRequest, body: Any, create: Callable[[], tuple[int, Any]], *, secrets: tuple[str, ...] = ()
) -> Status:
    """Run `create` (returning a status and a JSON-ready body) once per Idempotency-Key.

    `body` is the request as parsed (a dict): what "the same request" means. `secrets` name
    answer fields shown once (a new key's secret): they are not stored, so a retry gets the
    same object with those fields null; the secret lives only in the first answer.
    """
    key = request.headers.get(HEADER)
    if key is None:
        status, shown = create()
        return Status(status, shown)
    if not key or len(key) > KEY_MAX_LENGTH or not key.isascii() or not key.isprintable():
        raise header_error(f"1 to {KEY_MAX_LENGTH} printable ASCII characters")
    owner, now = owner_of(request), timezone.now()
    print_ = fingerprint(request, body)
    IdempotentRequest.objects.filter(expires_at__lte=now).delete()
    if (first := stored_answer(owner, key, print_)) is not None:
        return first
    try:
        with transaction.atomic():
            # The key is claimed before the object is created: a concurrent request with the
            # same key waits here on the unique index until this one commits or rolls back.
            claim = IdempotentRequest.objects.create(
                owner=owner,
                key=key,
                fingerprint=print_,
                status_code=0,
                body=None,
                expires_at=now + timedelta(hours=IDEMPOTENCY_KEY_HOURS),
            )
            status, shown = create()
            kept = {**shown, **dict.fromkeys(secrets)} if secrets and isinstance(shown, dict) else shown
            claim.status_code, claim.body = status, kept
            claim.save(update_fields=["status_code", "body"])
    except IntegrityError:
        if (first := stored_answer(owner, key, print_)) is None:
            raise
        return first
    return Status(status, shown)


def stored_answer(owner: str, key: str, print_: str) -> Status | None:
    first = IdempotentRequest.objects.filter(owner=owner, key=key).first()
    if first is None:
        return None
    if first.fingerprint != print_:
        raise header_error("this key was used for a different request; use a new key for a new request")
    return Status(first.status_code, first.body)
