"""`ETag` on reads of one object and `If-Match` on its changes: two scripts cannot overwrite each other blindly.

The tag is a hash of the object as the API shows it, so it changes whenever anything a
client could have read changes. A change that sends `If-Match` with another tag is
refused with 412; one that sends none goes ahead (as HTTP allows).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError

IF_MATCH = "If-Match"
# For the OpenAPI document: every change that honours If-Match declares it (`openapi_extra=CONDITIONAL`).
CONDITIONAL = {
    "parameters": [
        {
            "in": "header",
            "name": IF_MATCH,
            "required": False,
            "schema": {"type": "string"},
            "description": "The ETag you read: the change is refused with 412 if the object changed since. None: allowed.",
        }
    ]
}


def etag_for(shown: Any) -> str:
    """A strong tag for a JSON-ready representation."""
    canonical = json.dumps(shown, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def require_current(request: HttpRequest, current: str) -> None:
    """412 unless the request's If-Match (if any) names `current` (or is `*`)."""
    wanted = request.headers.get(IF_MATCH)
    if wanted is None:
        return
    tags = [tag.strip().removeprefix("W/") for tag in wanted.split(",")]
    if "*" in tags or current in tags:
        return
    raise HttpError(
        412, f"If-Match {wanted[:100]!r} is not the current ETag {current}: read the object again and retry"
    )
