"""The checks pages' sockets: a result pushes the check's row and its page's live part."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User

from accounts.roles import VIEWER
from checks.models import Check, CheckState, Outcome
from dashboard import live
from dashboard.check_consumers import CheckPageConsumer, ChecksConsumer
from statusdash.tests.support import user_with_role

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def setup() -> tuple[User, Check]:
    user = user_with_role("viewer", VIEWER)
    check = Check(name="db", kind="tcp", target="db.example:5432", retries=0)
    check.full_clean()
    check.save()
    return user, check


async def test_anonymous_socket_is_closed() -> None:
    communicator = WebsocketCommunicator(ChecksConsumer.as_asgi(), "/ws/checks/")
    communicator.scope["user"] = AnonymousUser()
    connected, code = await communicator.connect()
    assert not connected and code == 4401


async def test_a_result_pushes_the_checks_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    user, check = await database_sync_to_async(setup)()
    communicator = WebsocketCommunicator(ChecksConsumer.as_asgi(), "/ws/checks/")
    communicator.scope["user"] = user
    assert (await communicator.connect())[0]
    await database_sync_to_async(check.record)(Outcome(CheckState.CRITICAL, "<b>refused</b>", 3.0))
    html = await communicator.receive_from(timeout=3)
    assert html.startswith(f'<tr id="check-{check.pk}" class="state-critical" hx-swap-oob="true"')
    assert "&lt;b&gt;refused&lt;/b&gt;" in html
    await communicator.disconnect()


async def test_a_result_pushes_the_check_pages_live_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "IN_WEB_PROCESS", True)
    user, check = await database_sync_to_async(setup)()
    communicator = WebsocketCommunicator(CheckPageConsumer.as_asgi(), "/ws/checks/db/")
    communicator.scope["user"] = user
    communicator.scope["url_route"] = {"kwargs": {"name": "db"}}
    assert (await communicator.connect())[0]
    await database_sync_to_async(check.record)(Outcome(CheckState.CRITICAL, "timed out", 3.0))
    html = await communicator.receive_from(timeout=3)
    assert 'id="check-live"' in html and "timed out" in html
    await communicator.disconnect()


async def test_an_unknown_checks_page_socket_is_closed() -> None:
    user, _ = await database_sync_to_async(setup)()
    communicator = WebsocketCommunicator(CheckPageConsumer.as_asgi(), "/ws/checks/nope/")
    communicator.scope["user"] = user
    communicator.scope["url_route"] = {"kwargs": {"name": "nope"}}
    connected, code = await communicator.connect()
    assert not connected and code == 4404
