"""Schemas every API router shares."""

from ninja import Schema


class ErrorOut(Schema):
    """Every error the API answers: a sentence naming what is wrong (422s also list each field)."""

    detail: str


# The answers routes declare, so the OpenAPI document lists each with the error schema.
READ_ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut}
ONE_ERRORS: dict[int, type[Schema]] = {**READ_ERRORS, 404: ErrorOut}
WRITE_ERRORS: dict[int, type[Schema]] = {**ONE_ERRORS, 409: ErrorOut, 412: ErrorOut}
