"""Django's ASGI handler on a few long-lived threads.

Django's own handler runs every request's synchronous code (views, the ORM) on a new
thread (asgiref's ThreadSensitiveContext, one per request), and Django's connections
are per thread: every request opened a new database connection and the finished
thread's connection was never closed. Measured on ingest (docs/benchmarks.md, "Write
path in one hop"): 1.1 ms of CPU per request on SQLite, 2 ms plus 22 ms of waiting on
PostgreSQL, Daphne's memory growing with the abandoned SQLite connections, and
PostgreSQL refusing connections under load.

Here each request borrows one of WEB_THREADS single-thread executors for its
synchronous work and gives it back when it ends. On SQLite each thread keeps its
connection (CONN_MAX_AGE), closed when it goes bad. On PostgreSQL a request takes a
connection from the process's pool (settings: WEB_THREADS + 1, the one more for the
Channels consumers' thread) and Django gives it back when the request finishes; a
request cancelled before that leaves it with its thread, whose next request gives it
back, so the pool never loses one (with a thread per request it would leave with the
thread). The middleware chain and the view run there as one call, so a request crosses
from the event loop to its thread once and back once.
Daphne reads a request's whole body before calling the application, so a slow
client never holds a thread.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class PooledThreadsASGIHandler(ASGIHandler):
    def __init__(self, threads: int) -> None:
        super().__init__()
        # The middleware chain and the view, as one synchronous call on the request's thread:
        # in Django's async chain every (sync) middleware hook crosses threads on its own,
        # 16 crossings a request instead of 5 (docs/benchmarks.md, "Write path in one hop").
        self.load_middleware(is_async=False)
        self.executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{n}") for n in range(threads)]
        self._idle: asyncio.Queue[ThreadPoolExecutor] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django's own refusal
        idle = self._idle_executors()
        executor = await idle.get()  # waits only while all WEB_THREADS are busy
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            idle.put_nowait(executor)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # From the event loop to the request's thread once: the database is reached there, and
        # the response comes back in the second and last crossing.
        response: HttpResponseBase = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response

    def _idle_executors(self) -> asyncio.Queue[ThreadPoolExecutor]:
        # Made on first use, inside the server's event loop, which the queue belongs to.
        if self._idle is None:
            self._idle = asyncio.Queue()
            for executor in self.executors:
                self._idle.put_nowait(executor)
        return self._idle
