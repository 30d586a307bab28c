"""Strict JSON request bodies: gzip-aware, bounded, no NaN or Infinity."""

from __future__ import annotations

import json
import zlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.parser import Parser


class BodyTooLarge(Exception):
    pass


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decoded_body(request: HttpRequest) -> bytes:
    body = request.body
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ValueError(f"unsupported Content-Encoding {encoding!r}; send identity or gzip")
    limit = settings.MAX_DECODED_REPORT_BYTES
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise ValueError(f"body is not valid gzip: {error}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(f"decompressed body is larger than {limit} bytes")
    return data


class StrictJSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return json.loads(decoded_body(request), parse_constant=_refuse_constant)
        except RecursionError:
            # `[[[[...` a hundred thousand deep fits in any body limit and exhausts the
            # parser's stack: a malformed body, not a server error.
            raise ValueError("JSON is nested too deeply") from None


def json_body(request: HttpRequest) -> Any:
    """The request's JSON for a handler that parses its body itself: 413 too large, 400 malformed."""
    try:
        return StrictJSONParser().parse_body(request)
    except BodyTooLarge as error:
        raise HttpError(413, str(error)) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise HttpError(400, f"malformed JSON body: {error}") from None
