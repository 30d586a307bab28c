"""The dashboard's WebSockets: push re-rendered partials, swapped out-of-band by htmx.

One socket per page. The overview joins `hosts`; a host page joins `host-<id>`.
Events are small (`host.updated`, `sentiment.updated`); each consumer re-reads the
database and renders the same partial templates the page itself includes.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from accounts.rights import VIEW, allowed_actions
from accounts.sessions import owes_second_factor
from dashboard import groups, live
from dashboard.fragments import render_fragments
from dashboard.overview import describe_hosts
from dashboard.views import host_page_context, sentiment_context
from hosts.models import Host
from metrics.history import live_point
from statusdash.lib.observability import CountedWebSocketMixin

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class LiveConsumer(CountedWebSocketMixin, AsyncWebsocketConsumer):
    """Authenticates on connect (close 4401; 4403 for a user with no role) and joins `self.groups_to_join()`.

    `rights`: what the socket's user may do (accounts.rights), read once at connect. A push
    that can carry controls (an alert's acknowledge form) is rendered with them, per socket,
    so a viewer's socket never carries a form. A change of role closes the user's sockets
    (dashboard.apps), and the page reconnects with the new rights.
    """

    joined: list[str]
    rights: frozenset[str] = frozenset()

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session")
        if session is not None and await database_sync_to_async(owes_second_factor)(user, session):
            await self.close(code=CLOSE_UNAUTHENTICATED)  # the page itself sends them to log in or enroll
            return
        self.rights = frozenset(await database_sync_to_async(allowed_actions)(user))
        if VIEW not in self.rights:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        groups = await self.groups_to_join()
        if groups is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # Also the user's and the session's own groups: a log-out or deactivation closes the socket.
        groups = [*groups, live.user_group(user.pk)]
        if session is not None and session.session_key:
            groups.append(live.session_group(session.session_key))
        live.serving_websockets()
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        await self.accept()

    async def groups_to_join(self) -> list[str] | None:
        raise NotImplementedError

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The page sends nothing we act on (htmx may send form values); ignore it.
        return None

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def send_html(self, html: str | None) -> None:
        if html:
            await self.send(text_data=html)


class DashboardConsumer(LiveConsumer):
    """The overview: host cards, and the header with the sentiment and services."""

    grouped = False

    async def groups_to_join(self) -> list[str]:
        # A grouped page (`?group=tag` on the socket's URL) also shows each group's status.
        self.grouped = b"group=tag" in self.scope.get("query_string", b"").split(b"&")
        return [live.hosts_group()]

    async def host_updated(self, event: dict[str, Any]) -> None:
        # The card and the table row, as two messages: a <tr> parses only at the start of
        # one (after another element the HTML parser drops it). The page swaps in whichever it shows.
        for html in await database_sync_to_async(render_card_and_row)(event["host_id"]):
            await self.send_html(html)

    async def sentiment_updated(self, event: dict[str, Any]) -> None:
        # Sent when hosts change status (live.watch_statuses): the groups' statuses change with them.
        await self.send_html(await database_sync_to_async(render_sentiment)())
        if self.grouped:
            await self.send_html(await database_sync_to_async(render_group_statuses)())


class HostPageConsumer(LiveConsumer):
    """A host page: its summary, its alerts, and the newest report for the charts."""

    host_id: int

    async def groups_to_join(self) -> list[str] | None:
        name = self.scope["url_route"]["kwargs"]["name"]
        host_id = await database_sync_to_async(Host.objects.filter(name=name).values_list("pk", flat=True).first)()
        if host_id is None:
            return None
        self.host_id = host_id
        return [live.host_group(host_id)]

    async def host_updated(self, event: dict[str, Any]) -> None:
        await self.send_html(await database_sync_to_async(render_host_live)(self.host_id, self.rights))


def render_card_and_row(host_id: int) -> list[str]:
    """The host's card and row as pushes; rendered once per change, whatever the number of sockets."""
    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        return []
    described = describe_hosts([host])
    return [render_fragments(described, kind, oob=True)[0] for kind in ("card", "row")]


def render_group_statuses() -> str:
    """Every group's header status, swapped in by id on grouped pages."""
    headers = groups.current_summaries().values()
    return render_to_string("hosts/_group_statuses.html", {"headers": headers, "oob": True})


def render_sentiment() -> str:
    return render_to_string("hosts/_sentiment_push.html", {**sentiment_context(), "oob": True})


def render_host_live(host_id: int, rights: frozenset[str]) -> str | None:
    """The host page's live part with the alert controls `rights` allows (rendered per socket)."""
    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        return None
    point = live_point(host)
    context = {**host_page_context(host), "oob": True, "point": json.dumps(point) if point else "", "rights": rights}
    return render_to_string("hosts/_host_live.html", context)
