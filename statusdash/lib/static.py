"""WhiteNoise's static files, served from an async middleware.

WhiteNoiseMiddleware is sync-only, so under Daphne Django called it in a thread and
came back to the event loop for the rest of the chain: two thread crossings on every
request before its view's own. This one looks the path up on the event loop (a dict
lookup, or a file check with WHITENOISE_AUTOREFRESH) and leaves the thread only to open
a static file; every other request goes straight on to the (async) rest of the chain.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if not iscoroutinefunction(get_response):
            raise TypeError("AsyncWhiteNoiseMiddleware serves an async chain (Django's ASGI handler)")
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        static_file = self.find_file(path) if self.autorefresh else self.files.get(path)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        response: HttpResponseBase = await self.get_response(request)
        return response
