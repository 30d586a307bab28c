"""What the host-changing routes take and answer (hosts/api.py, and the host routes dashboard/api.py serves)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from hosts.models import ApiKey, EnrollmentToken, Host


class HostIn(Schema):
    name: str = Field(max_length=63, examples=["web-1"])
    display_name: str = Field("", max_length=100, examples=["Web 1"])
    description: str = Field("", max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=50, examples=[["prod", "rack-2"]])
    enabled: bool = True
    public: bool = Field(False, description="Show it on the public status page.")


class HostPatch(Schema):
    """Only the fields given change. A host's name is its identity (agents report by it) and does not change."""

    display_name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=2000)
    tags: list[str] | None = Field(None, max_length=50)
    enabled: bool | None = None
    public: bool | None = None


class HostSettingsOut(Schema):
    id: int
    name: str
    display_name: str
    description: str
    tags: list[str]
    enabled: bool
    public: bool
    created_at: datetime


def shown_settings(host: Host, public: bool) -> dict[str, Any]:
    return {
        "id": host.pk,
        "name": host.name,
        "display_name": host.display_name,
        "description": host.description,
        "tags": list(host.tags or []),
        "enabled": host.enabled,
        "public": public,
        "created_at": host.created_at,
    }


class KeyIn(Schema):
    label: str = Field("", max_length=100, examples=["web-1 agent"])


class KeyOut(Schema):
    id: int
    prefix: str
    label: str
    scope: str
    host: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    key: str | None = Field(
        None,
        description="The secret, shown only in the answer that created it (null in lists and in retried creates).",
    )


class KeyPage(Schema):
    items: list[KeyOut]
    next_cursor: str | None


def shown_key(key: ApiKey, raw: str | None = None) -> dict[str, Any]:
    return {
        "id": key.pk,
        "prefix": key.prefix,
        "label": key.label,
        "scope": key.scope,
        "host": key.host.name if key.host else "",
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
        "key": raw,
    }


class EnrollmentTokenIn(Schema):
    hours: int = Field(EnrollmentToken.DEFAULT_HOURS, ge=1, le=24 * 30, description="How long it may be used.")


class EnrollmentTokenOut(Schema):
    id: int
    prefix: str
    host: str
    created_at: datetime
    expires_at: datetime
    token: str | None = Field(
        None, description="The one-time secret for `python -m agent enroll`; shown only in the first answer."
    )


def shown_token(token: EnrollmentToken, raw: str | None = None) -> dict[str, Any]:
    return {
        "id": token.pk,
        "prefix": token.prefix,
        "host": token.host.name,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "token": raw,
    }
