"""The wall screen's WebSocket (`/ws/wall/`): redraws the wall when what it shows changes.

It listens where the overview listens (the `hosts` group: a report, an alert, a status
change seen by the status watch, a sentiment change), so a host moves between the wall's
sections by the same path that redraws its card. Most pushes change nothing a wall shows
(a healthy host reported again): each host's signature (dashboard.wall) is compared and
only a change redraws. Redraws are coalesced, so a rack going dark is one redraw, not one
per host. The wall also redraws every WALL_REFRESH_SECONDS, which is what its "updated
N s ago" counts from, and at which a socket let in by a key re-checks that key. Every wall
shows the same board, so the sockets of one process share one render (shared_board).

Let in by a session (like the other sockets) or by a read key in its URL (`?token=`);
either way it sends the wall's own fragment and nothing else.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from dashboard import live, wall
from dashboard.consumers import CLOSE_FORBIDDEN, LiveConsumer
from dashboard.wall_access import WallRefused, reader_for, still_valid, token_in

WALL_REFRESH_SECONDS = 10.0
# How long a redraw waits for more changes to join it. At 2,000 hosts a render takes tens
# of ms; at most two a second keeps a storm of changes from taking the web process's CPU,
# and half a second is nothing to someone reading a screen across the room.
WALL_COALESCE_SECONDS = 0.5
# The events the wall acts on (`session.ended`: a log-out closes a session's socket).
# Anything else sent to a group it shares is for another page.
WALL_EVENTS = ("host.updated", "sentiment.updated", "session.ended")


class WallConsumer(LiveConsumer):
    key_id: int | None
    signatures: dict[int, Any]
    redraw: asyncio.Task[None] | None
    changed_at: float | None  # the first change not yet in a render (monotonic)
    ticker: asyncio.Task[None] | None

    async def connect(self) -> None:
        self.joined, self.key_id, self.signatures, self.redraw, self.ticker = [], None, {}, None, None
        self.changed_at = None
        token = token_in(self.scope.get("query_string", b""))
        if token is None:
            await super().connect()  # a session, as every page's socket; joins groups_to_join()
        else:
            try:
                key = await database_sync_to_async(reader_for)(token)
            except WallRefused:
                await self.close(code=CLOSE_FORBIDDEN)
                return
            self.key_id = key.pk
            groups = await self.groups_to_join()
            live.serving_websockets()
            for group in groups:
                await self.channel_layer.group_add(group, self.channel_name)
            self.joined = groups
            await self.accept()
        if self.joined:
            self.ticker = asyncio.get_running_loop().create_task(self.tick())

    async def groups_to_join(self) -> list[str]:
        # What the page was drawn with, near enough: pushes from here on are compared with it.
        self.signatures = await database_sync_to_async(wall.signatures)()
        return [live.hosts_group()]

    async def disconnect(self, code: int) -> None:
        for task in (self.ticker, self.redraw):
            if task is not None:
                task.cancel()
        await super().disconnect(code)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Another page's event sent to a group the wall shares is dropped here, not sent on.
        if message["type"].startswith("websocket.") or message["type"] in WALL_EVENTS:
            await super().dispatch(message)

    async def host_updated(self, event: dict[str, Any]) -> None:
        host_id = event["host_id"]
        signature = await database_sync_to_async(wall.host_signature)(host_id)
        if self.signatures.get(host_id) != signature:
            self.schedule_redraw()

    async def sentiment_updated(self, event: dict[str, Any]) -> None:
        self.schedule_redraw()

    def schedule_redraw(self) -> None:
        if self.changed_at is None:
            self.changed_at = time.monotonic()
        if self.redraw is None or self.redraw.done():
            self.redraw = asyncio.get_running_loop().create_task(self.redraw_soon())

    async def redraw_soon(self) -> None:
        # A change that arrives while a render runs may not be in it: it gets a render of its own.
        while self.changed_at is not None:
            await asyncio.sleep(WALL_COALESCE_SECONDS)
            changed_at, self.changed_at = self.changed_at, None
            await self.send_board(changed_at)

    async def send_board(self, changed_at: float) -> None:
        html, self.signatures = await shared_board(changed_at)
        await self.send_html(html)

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(WALL_REFRESH_SECONDS)
            if self.key_id is not None and not await database_sync_to_async(still_valid)(self.key_id):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            await self.send_board(time.monotonic())


_latest: tuple[float, asyncio.Task[tuple[str, dict[int, Any]]]] | None = None


async def shared_board(changed_at: float) -> tuple[str, dict[int, Any]]:
    """The board, rendered after `changed_at` (monotonic): a render already started since then
    is shared, so five open walls cost one render per change, not five.

    Pushes go out after their transaction commits, so a render started after a push was
    received reads what that push announced.
    """
    global _latest
    loop = asyncio.get_running_loop()
    if _latest is None or _latest[0] < changed_at or _latest[1].get_loop() is not loop:
        _latest = (time.monotonic(), loop.create_task(database_sync_to_async(render_board)()))
    # Shielded: one socket closing while it waits must not cancel the others' render.
    return await asyncio.shield(_latest[1])


def render_board() -> tuple[str, dict[int, Any]]:
    board = wall.board()
    return render_to_string("wall/_wall_board.html", {**board, "oob": True}), board["signatures"]
