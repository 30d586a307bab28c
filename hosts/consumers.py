"""The dashboard's WebSocket: pushes re-rendered host cards as reports arrive."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from hosts.cards import host_card_context
from statusdash import live


class DashboardConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        live.serving_websockets()
        await self.channel_layer.group_add(live.hosts_group(), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(live.hosts_group(), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The page sends nothing we act on (htmx may send form values); ignore it.
        return None

    async def host_updated(self, event: dict[str, Any]) -> None:
        html = await database_sync_to_async(_render_card)(event["host_id"])
        if html:
            await self.send(text_data=html)


def _render_card(host_id: int) -> str | None:
    context = host_card_context(host_id)
    if context is None:
        return None
    return render_to_string("hosts/_host_card.html", {**context, "oob": True})
