"""The checks pages' WebSockets: a result or an edit pushes the check's row (list) or live part (page)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from checks.models import Check
from dashboard import live
from dashboard.check_views import check_page_context, check_row_context
from dashboard.consumers import LiveConsumer


class ChecksConsumer(LiveConsumer):
    async def groups_to_join(self) -> list[str]:
        return [live.checks_group()]

    async def check_updated(self, event: dict[str, Any]) -> None:
        await self.send_html(await database_sync_to_async(render_check_row)(event["check_id"]))


class CheckPageConsumer(LiveConsumer):
    check_id: int

    async def groups_to_join(self) -> list[str] | None:
        name = self.scope["url_route"]["kwargs"]["name"]
        check_id = await database_sync_to_async(Check.objects.filter(name=name).values_list("pk", flat=True).first)()
        if check_id is None:
            return None
        self.check_id = check_id
        return [live.check_group(check_id)]

    async def check_updated(self, event: dict[str, Any]) -> None:
        await self.send_html(await database_sync_to_async(render_check_live)(self.check_id))


def render_check_row(check_id: int) -> str | None:
    # A row filtered out of the page finds no target and htmx drops it: the filter holds.
    context = check_row_context(check_id)
    return None if context is None else render_to_string("checks/_check_row.html", {**context, "oob": True})


def render_check_live(check_id: int) -> str | None:
    check = Check.objects.select_related("host").filter(pk=check_id).first()
    if check is None:
        return None
    return render_to_string("checks/_check_live.html", {**check_page_context(check), "oob": True})
