"""Bad input as the API's 422: one entry per problem, `loc` naming the field."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from ninja.errors import HttpError, ValidationError

NON_FIELD = "__all__"


def field_error(field: str, message: str, where: str = "body") -> ValidationError:
    return ValidationError([{"loc": [where, field], "msg": message, "type": "value_error"}])


def field_errors(error: DjangoValidationError, renamed: dict[str, str] | None = None) -> ValidationError:
    """A model's validation errors (full_clean) as a 422; `renamed` maps model fields to the API's names."""
    renamed = renamed or {}
    return ValidationError(
        [
            {
                "loc": ["body", renamed.get(field, field)] if field != NON_FIELD else ["body"],
                "msg": msg,
                "type": "value_error",
            }
            for field, messages in error.message_dict.items()
            for msg in messages
        ]
    )


def not_found(kind: str, ref: object) -> HttpError:
    return HttpError(404, f"no {kind} {ref!r}")
