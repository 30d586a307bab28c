"""Strict JSON request bodies: gzip-aware, bounded, no NaN or Infinity.

gzip is for authenticated clients only, and inflates to no more than the raw body limit:
a few kilobytes of gzip must not let an anonymous client make the hub hold megabytes.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError, ValidationError
from ninja.parser import Parser


class BodyTooLarge(Exception):
    pass


class EncodingRefused(Exception):
    """A Content-Encoding this request may not use (415)."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decoded_body(request: HttpRequest) -> bytes:
    body = request.body
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise EncodingRefused(f"unsupported Content-Encoding {encoding!r}; send identity or gzip")
    # django-ninja sets request.auth once an endpoint's authentication has passed, which
    # happens before the body is parsed; endpoints without authentication never set it.
    if not getattr(request, "auth", None):
        raise EncodingRefused("gzip bodies are accepted only with credentials; send this body uncompressed")
    limit = settings.MAX_REPORT_BYTES
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise ValueError(f"body is not valid gzip: {error}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(f"decompressed body is larger than {limit} bytes")
    return data


def nul_location(value: Any, loc: list[str | int]) -> list[str | int] | None:
    """Where the first NUL character is in parsed JSON (a key or a string), or None."""
    if isinstance(value, str):
        return loc if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return [*loc, key]
            found = nul_location(item, [*loc, key])
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_location(item, [*loc, index])
            if found is not None:
                return found
    return None


class StrictJSONParser(Parser):
    """The API's parser. Its errors are HttpErrors with the status they deserve (413, 415,
    400); django-ninja wraps them in a generic 400 for schema-typed bodies, and the API's
    HttpError handler (statusdash.api) unwraps them again."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            body = decoded_body(request)
            data = json.loads(body, parse_constant=_refuse_constant)
        except BodyTooLarge as error:
            raise HttpError(413, str(error)) from None
        except EncodingRefused as error:
            raise HttpError(415, str(error)) from None
        except RecursionError:
            # `[[[[...` a hundred thousand deep fits in any body limit and exhausts the
            # parser's stack: a malformed body, not a server error.
            raise HttpError(400, "malformed JSON body: JSON is nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise HttpError(400, f"malformed JSON body: {error}") from None
        # JSON can carry NUL only escaped; PostgreSQL stores it in no text or JSON column, so
        # refuse it here for every endpoint and both databases, naming where it was.
        if b"\\u0000" in body:
            where = nul_location(data, ["body"])
            if where is not None:
                raise ValidationError(
                    [{"loc": where, "msg": "NUL characters (\\u0000) are not allowed", "type": "value_error"}]
                )
        return data


def json_body(request: HttpRequest) -> Any:
    """The request's JSON for a handler that parses its body itself: 413 too large, 415 an
    encoding it may not use, 400 malformed."""
    return StrictJSONParser().parse_body(request)
