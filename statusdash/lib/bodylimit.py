"""Refuse oversized API bodies before Django reads them.

The hub's own server (statusdash/lib/server.py) already refuses them before reading a byte
past the limit; this keeps the limit for any other ASGI server the app is put behind.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from statusdash.lib.observability import record_rejection

Scope = dict[str, Any]


class BodyLimitMiddleware:
    """413 for /api/ requests whose body is over MAX_REPORT_BYTES, declared or streamed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        limit = settings.MAX_REPORT_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                return await _refuse(scope, send, 400, "Content-Length is not a number")
            if too_big:
                return await _refuse(scope, send, 413, f"request body is larger than {limit} bytes")

        if declared is not None:
            return await self.app(scope, receive, send)
        # Chunked bodies have no Content-Length: read them here, bounded, then hand them on.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                return await _refuse(scope, send, 413, f"request body is larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def _refuse(scope: Scope, send: Any, status: int, detail: str) -> None:
    record_rejection(scope["path"], status)
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
