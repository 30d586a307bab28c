"""Every push to live dashboards goes through here (one place for group_send).

Groups are named after what they watch: `hosts` (the overview), `host-<id>`
(a host page), `checks` (the checks list) and `check-<id>` (a check's page). Events are small; consumers re-read the database and render.
Domain apps do not call this module: they send signals (hosts.signals,
alerts.signals, services.signals) that `DashboardConfig.ready()` connects here.

With Redis the channel layer crosses processes. Without it, the in-memory layer
lives in the web process only, so other processes (the Celery worker) write an
outbox row that the web process relays (`relay_outbox`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from dashboard.models import LiveEvent
from dashboard.overview import current_statuses

log = logging.getLogger(__name__)

# Set by statusdash.asgi: this process serves the WebSockets.
IN_WEB_PROCESS = False
OUTBOX_POLL_SECONDS = 0.25


def hosts_group() -> str:
    return "hosts"


def host_group(host_id: int) -> str:
    return f"host-{host_id}"


def host_updated(host_id: int) -> None:
    """A host reported, changed status or changed alerts: redraw its card and page."""
    _publish_on_commit((hosts_group(), host_group(host_id)), {"type": "host.updated", "host_id": host_id})


def alerts_group() -> str:
    return "alerts"


def alerts_changed() -> None:
    """An alert fired, resolved, was acknowledged or silenced: redraw alert lists."""
    _publish_on_commit((alerts_group(),), {"type": "alerts.changed"})


def sentiment_changed() -> None:
    """A service changed status: redraw the overall status and the services panel."""
    _publish_on_commit((hosts_group(),), {"type": "sentiment.updated"})


def checks_group() -> str:
    return "checks"


def check_group(check_id: int) -> str:
    return f"check-{check_id}"


def check_updated(check_id: int) -> None:
    """A check stored a result, changed state or was edited: redraw its row and its page."""
    _publish_on_commit((checks_group(), check_group(check_id)), {"type": "check.updated", "check_id": check_id})


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def session_group(session_key: str) -> str:
    # A digest, not the key: group names may sit in Redis, and the key is a credential.
    return "session-" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def session_ended(session_key: str) -> None:
    """A log-out: close that session's sockets (they re-check nothing once open)."""
    _publish_on_commit((session_group(session_key),), {"type": "session.ended"})


def user_sessions_ended(user_id: int) -> None:
    """A user was deactivated or given a new password: close all their sockets."""
    _publish_on_commit((user_group(user_id),), {"type": "session.ended"})


class _PendingPushes:
    """The pushes one transaction owes, each once, sent when it commits.

    A report announces its host, and an alert the same report fires announces the
    host again: one redraw is enough. The instance sits in Django's on-commit list,
    so a rollback drops it with the rest of the transaction's callbacks.
    """

    def __init__(self) -> None:
        self.pushes: dict[tuple[tuple[str, ...], str], tuple[tuple[str, ...], dict[str, Any]]] = {}

    def add(self, groups: tuple[str, ...], event: dict[str, Any]) -> None:
        self.pushes.setdefault((groups, json.dumps(event, sort_keys=True)), (groups, event))

    def __call__(self) -> None:
        for groups, event in self.pushes.values():
            _publish(list(groups), event)


def _publish_on_commit(groups: tuple[str, ...], event: dict[str, Any]) -> None:
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        # Join the pushes this transaction already owes (Django keeps them in run_on_commit).
        for _savepoints, callback, _robust in connection.run_on_commit:
            if isinstance(callback, _PendingPushes):
                callback.add(groups, event)
                return
    pending = _PendingPushes()
    pending.add(groups, event)
    transaction.on_commit(pending)  # outside a transaction: runs at once


def _publish(groups: list[str], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    in_memory = isinstance(layer, InMemoryChannelLayer)
    if in_memory and not IN_WEB_PROCESS:
        LiveEvent.objects.bulk_create([LiveEvent(group=g, payload=event) for g in groups])
        return
    if _socket_loop is not None and not _socket_loop.is_closed() and IN_WEB_PROCESS:
        # Hand the send to the event loop and return: waiting for it would stall the
        # one thread that runs every sync view (and so all ingest) behind the loop.
        for group in groups:
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, event), _socket_loop)
            future.add_done_callback(_log_failure)
        return
    if in_memory:
        return  # no socket was ever opened in this process: nobody to tell
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, event)
    except Exception:  # Redis down: the data is stored; dashboards catch up on reconnect
        log.warning("live update not delivered", extra={"groups": ",".join(groups)}, exc_info=True)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("live update not delivered", exc_info=future.exception())


_socket_loop: asyncio.AbstractEventLoop | None = None
_relay_task: asyncio.Task[None] | None = None
_watch_task: asyncio.Task[None] | None = None
# How often the web process re-evaluates host statuses; a host turns stale/offline on
# open dashboards within this many seconds of crossing the line.
STATUS_WATCH_SECONDS = 2.0


def serving_websockets() -> None:
    """Called by consumers on connect, in the web process's event loop.

    Remembers the loop (so sync code can hand it pushes) and, without Redis,
    starts relaying outbox rows written by other processes.
    """
    global _socket_loop, _relay_task, _watch_task
    loop = asyncio.get_running_loop()
    _socket_loop = loop
    if _watch_task is None or _watch_task.done() or _watch_task.get_loop() is not loop:
        _watch_task = loop.create_task(watch_statuses())
    if not isinstance(get_channel_layer(), InMemoryChannelLayer):
        return
    if _relay_task is None or _relay_task.done() or _relay_task.get_loop() is not loop:
        _relay_task = loop.create_task(relay_outbox())


async def relay_outbox() -> None:
    layer = get_channel_layer()
    while True:
        try:
            events = await database_sync_to_async(LiveEvent.take_all)()
            for event in events:
                await layer.group_send(event.group, event.payload)
        except Exception:
            log.exception("outbox relay failed; retrying")
        await asyncio.sleep(OUTBOX_POLL_SECONDS)


async def watch_statuses() -> None:
    """Turn cards stale or offline on open dashboards when reports stop.

    Nothing arrives when a host goes quiet, so the web process (not Celery: it must
    work with the worker down too) compares every host's status every few seconds
    and pushes the hosts whose status changed. Runs once per web process; with
    several processes each pushes, and a card re-rendered twice looks the same.
    """
    previous: dict[int, str] | None = None
    while True:
        try:
            previous = await publish_status_changes(previous)
        except Exception:
            log.exception("status watch failed; retrying")
        await asyncio.sleep(STATUS_WATCH_SECONDS)


async def publish_status_changes(previous: dict[int, str] | None) -> dict[int, str]:
    """Push `host.updated` for each host whose status differs from `previous`; returns the statuses now."""
    current = await database_sync_to_async(current_statuses)()
    if previous is None:
        return current
    changed = [host_id for host_id, status in current.items() if previous.get(host_id) != status]
    layer = get_channel_layer()
    for host_id in changed:
        event = {"type": "host.updated", "host_id": host_id}
        for group in (hosts_group(), host_group(host_id)):
            await layer.group_send(group, event)
    if changed:
        await layer.group_send(hosts_group(), {"type": "sentiment.updated"})
    return current
