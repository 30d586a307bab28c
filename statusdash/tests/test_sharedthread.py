"""SharedThreadASGIHandler: every request's sync code runs on the process's one shared thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.core.signals import request_started

from statusdash.lib.sharedthread import SharedThreadASGIHandler


async def get(path: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    messages: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected; Django cancels this wait
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await SharedThreadASGIHandler()(scope, receive, send)
    return int(messages[0]["status"])


@pytest.mark.asyncio
async def test_requests_share_one_thread_and_so_one_database_connection() -> None:
    threads: list[int] = []

    def remember_thread(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    request_started.connect(remember_thread)
    try:
        for _ in range(3):
            await get("/api/metrics/validate")
    finally:
        request_started.disconnect(remember_thread)
    assert len(threads) == 3
    assert len(set(threads)) == 1
