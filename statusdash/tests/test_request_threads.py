"""statusdash.lib.request_threads: requests share a few long-lived threads and their connections."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from channels.testing import HttpCommunicator
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

    request_started.connect(note, weak=False, dispatch_uid="test-note-thread")
    try:
        answers = await asyncio.gather(
            *(
                HttpCommunicator(application, "GET", "/health", headers=[(b"host", b"localhost")]).get_response(
                    timeout=30
                )
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
