"""Schemas every API router shares."""

import re
from datetime import UTC, datetime
from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, BeforeValidator


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


def _in_utc(value: datetime) -> datetime:
    # PostgreSQL takes zone offsets up to 15:59 only; ISO 8601 (and Python) allow up to 23:59,
    # so an offset of -16:44 was a 500 there. The moment is the same in UTC.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("a time within the years 1 to 9999 in UTC") from None


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# A moment as the API takes it: ISO 8601 with a zone (a naive or numeric time is a 422), in UTC.
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_in_utc)]
