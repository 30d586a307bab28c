"""statusdash.lib.request_threads: requests share a few long-lived threads and their connections."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref import sync
from channels.testing import HttpCommunicator
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_started
from django.db import connection

from statusdash.lib.request_threads import PooledThreadsASGIHandler

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def threads_and_connections_used(application: Any, requests: int) -> tuple[set[int], set[int]]:
    """Serve `requests` /health requests at once; the threads their sync code ran on and the connections it used."""
    threads: set[int] = set()
    connections: set[int] = set()

    def note(**kwargs: Any) -> None:
        threads.add(threading.get_ident())
        connection.ensure_connection()
        connections.add(id(connection.connection))

    async def served(communicator: HttpCommunicator) -> dict[str, Any]:
        answer: dict[str, Any] = await communicator.get_response(timeout=30)
        # Let the handler finish as a server would: request_finished gives the connection back.
        # (A communicator dropped here cancels the handler before it, leaking a pooled connection.)
        await communicator.wait(timeout=30)
        return answer

    request_started.connect(note, weak=False, dispatch_uid="test-note-thread")
    try:
        answers = await asyncio.gather(
            *(
                served(HttpCommunicator(application, "GET", "/health", headers=[(b"host", b"localhost")]))
                for _ in range(requests)
            )
        )
    finally:
        request_started.disconnect(dispatch_uid="test-note-thread")
    assert {answer["status"] for answer in answers} == {200}
    return threads, connections


async def test_concurrent_requests_share_the_pools_threads_and_connections() -> None:
    application = PooledThreadsASGIHandler(threads=3)
    first_threads, first_connections = await threads_and_connections_used(application, 12)
    again_threads, again_connections = await threads_and_connections_used(application, 12)
    assert len(first_threads) <= 3
    assert again_threads <= first_threads  # the same threads, not new ones
    assert again_connections <= first_connections  # and the connections they opened, reused


async def test_djangos_own_handler_opens_a_thread_per_request() -> None:
    # Why the pool exists: this is what it replaces (a thread, and so a connection, per request).
    threads, _ = await threads_and_connections_used(ASGIHandler(), 12)
    assert len(threads) > 3


async def test_a_request_waits_for_a_free_thread_rather_than_failing() -> None:
    application = PooledThreadsASGIHandler(threads=1)
    threads, _ = await threads_and_connections_used(application, 5)
    assert len(threads) == 1


async def get(application: Any, path: str) -> dict[str, Any]:
    communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", b"localhost")])
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=30)
    body = b""
    while True:  # a file is streamed in chunks
        message = await communicator.receive_output(timeout=30)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body}  # names as Django sent them


async def test_a_request_reaches_its_view_in_one_crossing_and_never_comes_back_midway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Django's async chain runs each middleware hook through its own sync_to_async (16 a
    # request here), and a sync-only middleware adds a trip back to the loop (async_to_sync).
    into_threads: list[str] = []
    back_to_the_loop: list[str] = []
    original_into, original_back = sync.SyncToAsync.__call__, sync.AsyncToSync.__call__

    async def counted_into(self: Any, *args: Any, **kwargs: Any) -> Any:
        into_threads.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original_into(self, *args, **kwargs)

    def counted_back(self: Any, *args: Any, **kwargs: Any) -> Any:
        back_to_the_loop.append(repr(self.awaitable))
        return original_back(self, *args, **kwargs)

    application = PooledThreadsASGIHandler(threads=2)
    assert (await get(application, "/login/"))["status"] == 200  # warm: first-request work aside
    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted_into)
    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted_back)
    assert (await get(application, "/login/"))["status"] == 200
    assert back_to_the_loop == []
    assert into_threads.count("BaseHandler.get_response") == 1  # the middleware chain and the view, at once
    assert len(into_threads) <= 2, into_threads  # that, and Django's request_started signal


async def test_static_files_are_still_served() -> None:
    response = await get(PooledThreadsASGIHandler(threads=1), "/static/js/dashboard.js")
    assert response["status"] == 200
    assert response["headers"][b"Content-Type"].startswith(b"text/javascript")
    assert response["body"] == (settings.BASE_DIR / "static" / "js" / "dashboard.js").read_bytes()
