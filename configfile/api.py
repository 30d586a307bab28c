"""/api/config: the configuration file's JSON Schema, and apply through the API (admins only).

The schema is public: it holds no data, and editors fetch it without credentials
(`# yaml-language-server: $schema=https://hub/api/config/schema.json`). Apply takes the
file's text (YAML or JSON) as the body and answers the diff; a file with errors is a 422
listing every one with its line, and then nothing was changed.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError, ValidationError

from configfile.applying import apply_text
from configfile.spec import json_schema
from hosts.auth import ADMIN_AUTH
from statusdash.lib.jsonparse import BodyTooLarge, EncodingRefused, decoded_body
from statusdash.lib.schemas import ErrorOut

router = Router(tags=["config"])

APPLY_BODY = {
    "requestBody": {
        "required": True,
        "description": "The configuration file, YAML or JSON (schema: /api/config/schema.json).",
        "content": {
            "text/plain": {
                "schema": {"type": "string"},
                "example": "rules:\n  - {name: cpu, metric: cpu, warning_level: 90}\n",
            },
            "application/json": {
                "schema": {"type": "object"},
                "example": {"hosts": [{"name": "web-1", "tags": ["prod"]}]},
            },
        },
    }
}


class FieldChangeOut(Schema):
    field: str
    old: Any = None
    new: Any = None


class ChangeOut(Schema):
    kind: Literal["host", "rule", "channel", "check", "silence"]
    name: str
    action: Literal["create", "update", "delete", "end"]
    fields: list[FieldChangeOut]


class ApplyOut(Schema):
    applied: bool
    dry_run: bool
    changes: list[ChangeOut]
    diff: str


@router.get("/schema.json", auth=None, response=dict[str, Any])
def schema(request: HttpRequest) -> dict[str, Any]:
    """The JSON Schema of statusdash.yaml (what manage.py export writes), for editors and CI."""
    return json_schema()


@router.post(
    "/apply",
    auth=ADMIN_AUTH,
    response={200: ApplyOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut, 415: ErrorOut},
    openapi_extra=APPLY_BODY,
)
def apply(request: HttpRequest, dry_run: bool = False, prune: bool = False) -> dict[str, Any]:
    """Make the hub match the file, as `manage.py apply` does; `dry_run=true` only says what would change,
    `prune=true` also removes objects of the kinds the file lists that it does not name.

    Secrets written as `${STATUSDASH_…}` are read from the hub's environment.
    """
    try:
        text = decoded_body(request).decode("utf-8")
    except BodyTooLarge as error:
        raise HttpError(413, str(error)) from None
    except EncodingRefused as error:
        raise HttpError(415, str(error)) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise HttpError(400, f"the body is not UTF-8 text: {error}") from None
    outcome = apply_text(text, dry_run=dry_run, prune=prune, user=request.auth)  # type: ignore[attr-defined]
    if outcome.errors:
        raise ValidationError(
            [
                {"loc": ["body", *error.path], "msg": error.message, "type": "value_error", "line": error.line}
                for error in outcome.errors
            ]
        )
    return {
        "applied": outcome.applied,
        "dry_run": outcome.dry_run,
        "changes": [change.as_json() for change in outcome.changes],
        "diff": outcome.diff(),
    }
