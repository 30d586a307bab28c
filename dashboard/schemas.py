from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class SystemOut(Schema):
    os: str
    kernel: str
    arch: str
    cpu_count: int | None
    agent_version: str
    boot_time: datetime | None
    hostname: str


class HostOut(Schema):
    id: int
    name: str
    display_name: str
    tags: list[str]
    enabled: bool
    status: str
    first_seen: datetime | None
    last_seen: datetime | None
    system: SystemOut
    latest: dict[str, Any] | None
    active_alerts: int


class HistoryOut(Schema):
    range: str
    step_seconds: int
    timestamps: list[int]
    series: dict[str, list[float | None]]


class HostDetailOut(HostOut):
    description: str
    history: HistoryOut


class ServiceOut(Schema):
    name: str
    status: str
    lastCheck: datetime | None
    metrics: dict[str, Any] | None = None
    error: str | None = None


class SentimentOut(Schema):
    status: str
    services: list[ServiceOut]
    hosts: dict[str, int]
