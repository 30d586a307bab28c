"""/api/channels: where notifications go. Admins change them; operators may send a test.

A channel's URL holds its secrets (tokens, passwords), so it goes in and never comes out:
answers show its scheme only.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from ninja.errors import HttpError

from alerts import delivery
from alerts.models import AuditAction, AuditEntry, NotificationChannel
from alerts.schemas import ChannelIn, ChannelOut, ChannelPage, ChannelPatch, ChannelTestOut, shown_channel
from audit.idempotency import IDEMPOTENT, idempotent
from hosts.auth import ADMIN_AUTH, OPERATOR_AUTH, READ_AUTH, caller
from statusdash.lib import cursor
from statusdash.lib.etags import CONDITIONAL, etag_for, require_current
from statusdash.lib.fielderrors import field_errors, not_found
from statusdash.lib.schemas import ONE_ERRORS, READ_ERRORS, WRITE_ERRORS

router = Router(tags=["channels"], auth=READ_AUTH)


def find(channel_id: int, *, lock: bool = False) -> NotificationChannel:
    channels = NotificationChannel.objects.all()
    channel = (channels.select_for_update() if lock else channels).filter(pk=channel_id).first()
    if channel is None:
        raise not_found("channel", channel_id)
    return channel


def etag_of(channel: NotificationChannel) -> str:
    # The URL is not shown, but a new URL is a change another script must not overwrite blindly.
    return etag_for({**shown_channel(channel), "url": hashlib.sha256(channel.url.encode()).hexdigest()})


def tagged(channel: NotificationChannel, response: HttpResponse) -> dict[str, Any]:
    response["ETag"] = etag_of(channel)
    return shown_channel(channel)


def save(channel: NotificationChannel, changes: dict[str, Any]) -> None:
    for field, value in changes.items():
        setattr(channel, field, value)
    try:
        channel.full_clean(validate_unique=False)
        with transaction.atomic():
            channel.save()
    except DjangoValidationError as error:
        raise field_errors(error) from None
    except IntegrityError:
        raise HttpError(409, f"a channel named {channel.name!r} exists already") from None


@router.get("", response={200: ChannelPage, **READ_ERRORS})
def list_channels(request: HttpRequest, query: Query[cursor.PageQuery]) -> dict[str, Any]:
    """Every notification channel, by name (URLs are not shown: they hold secrets)."""
    items, next_cursor = cursor.page(NotificationChannel.objects.all(), key="name", descending=False, query=query)
    return {"items": [shown_channel(c) for c in items], "next_cursor": next_cursor}


@router.post("", auth=ADMIN_AUTH, openapi_extra=IDEMPOTENT, response={201: ChannelOut, **WRITE_ERRORS})
def create_channel(request: HttpRequest, body: ChannelIn) -> Status:
    """Add a channel: an Apprise URL, the least severity it wants, the host tags it cares about."""

    def create() -> tuple[int, Any]:
        channel = NotificationChannel()
        save(channel, body.model_dump())
        return 201, shown_channel(channel)

    return idempotent(request, body.model_dump(mode="json"), create)


@router.get("/{channel_id}", response={200: ChannelOut, **ONE_ERRORS})
def get_channel(request: HttpRequest, channel_id: int, response: HttpResponse) -> dict[str, Any]:
    """One channel, and its ETag."""
    return tagged(find(channel_id), response)


@router.patch("/{channel_id}", auth=ADMIN_AUTH, openapi_extra=CONDITIONAL, response={200: ChannelOut, **WRITE_ERRORS})
def change_channel(request: HttpRequest, channel_id: int, body: ChannelPatch, response: HttpResponse) -> dict[str, Any]:
    """Change the fields given. Honours If-Match."""
    with transaction.atomic():
        channel = find(channel_id, lock=True)
        require_current(request, etag_of(channel))
        save(channel, body.model_dump(exclude_unset=True, exclude_none=True))
    return tagged(channel, response)


@router.delete("/{channel_id}", auth=ADMIN_AUTH, openapi_extra=CONDITIONAL, response={204: None, **WRITE_ERRORS})
def delete_channel(request: HttpRequest, channel_id: int) -> Status:
    """Remove a channel with its delivery log. Honours If-Match."""
    with transaction.atomic():
        channel = find(channel_id, lock=True)
        require_current(request, etag_of(channel))
        channel.delete()
    return Status(204, None)


@router.post("/{channel_id}/test", auth=OPERATOR_AUTH, response={200: ChannelTestOut, **ONE_ERRORS})
def test_channel(request: HttpRequest, channel_id: int) -> dict[str, Any]:
    """Send a test notification now and say whether the channel took it (recorded in its delivery log)."""
    channel = find(channel_id)
    who = caller(request).get_username() if hasattr(caller(request), "get_username") else "the API"
    notification = delivery.create_leased(
        channel=channel,
        title="statusdash test notification",
        body=f"Sent through the API by {who}. If you read this, {channel.name} works.",
    )
    AuditEntry.record(caller(request), AuditAction.TEST_CHANNEL, detail=channel.name)
    sent = bool(delivery.deliver(notification, final_attempt=True))
    notification.refresh_from_db()
    return {"sent": sent, "error": "" if sent else notification.error}
