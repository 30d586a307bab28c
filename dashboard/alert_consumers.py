"""The alerts page's WebSocket: tells the page to redraw its (filtered) list when alerts change."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from dashboard import live
from dashboard.consumers import LiveConsumer


class AlertsConsumer(LiveConsumer):
    async def groups_to_join(self) -> list[str]:
        return [live.alerts_group()]

    async def alerts_changed(self, event: dict[str, Any]) -> None:
        # The list depends on the page's filter, which only the page knows: it re-fetches
        # its own URL when this marker is swapped in (static/js/dashboard.js).
        await self.send_html(render_to_string("_live_refresh.html"))
