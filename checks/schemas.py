"""What /api/checks takes and answers. Secrets go in, never out (`has_credentials` says whether set)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from checks.models import MESSAGE_MAX_LENGTH, Check, CheckKind, CheckResult, CheckState


class CheckIn(Schema):
    name: str = Field(max_length=80)
    kind: CheckKind
    target: str = Field(max_length=1000)
    interval: int = 60
    timeout: float = 10
    retries: int = 1
    options: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    public: bool = False
    enabled: bool = True
    runs_on: str = Field("hub", max_length=200, description='"hub", a host\'s name, or "tag:TAG"')
    username: str = Field("", max_length=200)
    password: str = Field("", max_length=200)
    bearer_token: str = Field("", max_length=2000)


class CheckPatch(Schema):
    """Only the fields given change."""

    name: str | None = Field(None, max_length=80)
    kind: CheckKind | None = None
    target: str | None = Field(None, max_length=1000)
    interval: int | None = None
    timeout: float | None = None
    retries: int | None = None
    options: dict[str, Any] | None = None
    tags: list[str] | None = None
    public: bool | None = None
    enabled: bool | None = None
    runs_on: str | None = Field(None, max_length=200)
    username: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=200)
    bearer_token: str | None = Field(None, max_length=2000)


class CheckOut(Schema):
    id: int
    name: str
    kind: str
    target: str
    interval: int
    timeout: float
    retries: int
    options: dict[str, Any]
    tags: list[str]
    public: bool
    enabled: bool
    runs_on: str
    has_credentials: bool
    state: CheckState
    since: datetime | None
    consecutive_failures: int
    last_result_at: datetime | None
    last_latency_ms: float | None
    last_message: str
    next_run_at: datetime

    @staticmethod
    def resolve_has_credentials(check: Check | dict[str, Any]) -> bool:
        if isinstance(check, dict):  # an answer stored for an Idempotency-Key, already shown
            return bool(check["has_credentials"])
        return bool(check.username or check.password or check.bearer_token)


class CheckResultOut(Schema):
    at: datetime
    state: CheckState
    latency_ms: float | None
    message: str = Field(max_length=MESSAGE_MAX_LENGTH)

    @staticmethod
    def from_row(row: CheckResult) -> CheckResultOut:
        return CheckResultOut(at=row.at, state=CheckState(row.state), latency_ms=row.latency_ms, message=row.message)


class CheckResultsOut(Schema):
    check: str
    since: datetime
    results: list[CheckResultOut]
    truncated: bool
