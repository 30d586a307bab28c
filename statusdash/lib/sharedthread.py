"""Django's ASGI handler, with each request's sync code on the process's one shared thread."""

from __future__ import annotations

from typing import Any

from django.core.handlers.asgi import ASGIHandler


class SharedThreadASGIHandler(ASGIHandler):
    """Django's ASGI handler with each request's sync code on the process's one shared thread.

    Django gives every request a thread of its own (asgiref's ThreadSensitiveContext),
    and every new thread opens a new database connection: 1.1 ms of CPU on SQLite and
    2 ms plus a server process on PostgreSQL, per request; under load the connections
    that dead threads left to the garbage collector exhausted PostgreSQL's
    max_connections. On asgiref's shared thread (where Channels consumers already run
    their database work) the connection is kept, and this process's writers take turns
    as SQLite wants. The price: a slow sync view delays the others of this process,
    and none here waits long (the health check's Redis ping gives up after 1 s).
    Figures: docs/benchmarks.md, "Write path in one hop".
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)
