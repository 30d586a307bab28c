"""Schemas every API router shares."""

import re
from typing import Annotated

from ninja import Schema
from pydantic import AwareDatetime, BeforeValidator


class ErrorOut(Schema):
    """Every error the API answers: a sentence naming what is wrong (422s also list each field)."""

    detail: str


# The answers routes declare, so the OpenAPI document lists each with the error schema.
READ_ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut}
ONE_ERRORS: dict[int, type[Schema]] = {**READ_ERRORS, 404: ErrorOut}
WRITE_ERRORS: dict[int, type[Schema]] = {**ONE_ERRORS, 409: ErrorOut, 412: ErrorOut}


def _iso_only(value: object) -> object:
    # pydantic reads a number (or a string of digits) as a Unix time; the API documents ISO 8601.
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("an ISO 8601 time with its zone, e.g. 2026-12-03T18:00:00Z")
    return value


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# A moment as the API takes it: ISO 8601 with a zone (a naive or numeric time is a 422).
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
