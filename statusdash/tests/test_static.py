"""statusdash.lib.static: static files from an async middleware, and no extra thread crossings."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref import sync
from channels.testing import HttpCommunicator
from django.conf import settings

from statusdash.lib.request_threads import PooledThreadsASGIHandler

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def get(path: str) -> dict[str, Any]:
    application = PooledThreadsASGIHandler(threads=2)
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


async def test_a_static_file_is_served() -> None:
    response = await get("/static/js/dashboard.js")
    assert response["status"] == 200
    assert response["headers"][b"Content-Type"].startswith(b"text/javascript")
    assert response["body"] == (settings.BASE_DIR / "static" / "js" / "dashboard.js").read_bytes()


async def test_a_request_never_crosses_back_to_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # A sync-only middleware makes Django call the rest of the chain with async_to_sync:
    # into a thread for the middleware, back to the loop, into a thread again for the view.
    crossings_back: list[str] = []
    original = sync.AsyncToSync.__call__

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        crossings_back.append(getattr(self.awaitable, "__qualname__", repr(self.awaitable)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted)
    assert (await get("/health"))["status"] == 200
    assert (await get("/login/"))["status"] == 200
    assert crossings_back == []
