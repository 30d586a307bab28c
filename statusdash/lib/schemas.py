"""Schemas every API router shares."""

from ninja import Schema


class ErrorOut(Schema):
    """Every error the API answers: a sentence naming what is wrong (422s also list each field)."""

    detail: str
