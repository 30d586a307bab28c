"""Cursor pagination for every API list: pages that neither repeat nor skip rows when rows are added.

A list is ordered by one sort key and then the id, both in the same direction. A page ends
with an opaque cursor naming its last row's (sort key, id); the next page is the rows
strictly after that pair. An offset would shift when a row is inserted before it (a row
shown twice, or one never shown); a (key, id) position does not move.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from ninja import Schema
from ninja.errors import ValidationError
from pydantic import Field

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

M = TypeVar("M", bound=Model)


class PageQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page.")
    cursor: str | None = Field(
        None, max_length=500, description="`next_cursor` of the page before; absent for the first page."
    )


class InvalidCursor(ValueError):
    pass


def encode(value: Any, pk: int) -> str:
    kind = "dt" if isinstance(value, datetime) else "v"
    shown = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([kind, shown, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, pk = json.loads(raw)
        if kind == "dt":
            value = datetime.fromisoformat(value)
        elif kind != "v" or not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InvalidCursor(cursor)
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise InvalidCursor(cursor)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursor(cursor) from None
    return value, pk


def page(queryset: QuerySet[M], *, key: str, descending: bool, query: PageQuery) -> tuple[list[M], str | None]:
    """One page of `queryset` ordered by (`key`, id), and the cursor of the next (None: the last page)."""
    order = [f"-{key}", "-pk"] if descending else [key, "pk"]
    rows = queryset.order_by(*order)
    if query.cursor:
        try:
            value, pk = decode(query.cursor)
        except InvalidCursor:
            raise ValidationError(
                [{"loc": ["query", "cursor"], "msg": "not a cursor this list gave", "type": "value_error"}]
            ) from None
        beyond = "lt" if descending else "gt"
        rows = rows.filter(Q(**{f"{key}__{beyond}": value}) | Q(**{key: value, f"pk__{beyond}": pk}))
    found = list(rows[: query.limit + 1])
    items = found[: query.limit]
    if len(found) <= query.limit:
        return items, None
    last = items[-1]
    return items, encode(getattr(last, key.split("__")[0]), last.pk)
