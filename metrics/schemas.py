"""The report an agent sends, validated field by field so a 422 can name what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from django.conf import settings
from django.utils import timezone
from ninja import Schema
from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter, field_validator

from hosts.models import HOST_NAME_PATTERN

# Pydantic's lax mode reads "5" and true as numbers and a number as a Unix time, so it took
# reports the documented schema refuses (a boot_time of 0 was stored as 1970). Numbers are
# strict (text and booleans refused, whole numbers still welcome as floats); integers and
# times, which strict mode would narrow further than JSON Schema does, are checked before.


def json_integer(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON integer, not a string or a boolean")
    return value  # 4.0 is an integer to JSON Schema, and to pydantic


def json_date_time(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError("must be a date-time string, e.g. 2024-05-01T12:00:00+00:00")
    return value


Integer = Annotated[int, BeforeValidator(json_integer)]
DateTime = Annotated[datetime, BeforeValidator(json_date_time)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, strict=True)]
Bytes = Annotated[int, Field(ge=0, le=2**63 - 1), BeforeValidator(json_integer)]
Rate = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False, strict=True)]
Load = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False, strict=True)]
ShortText = Annotated[str, Field(max_length=200)]


class CpuIn(BaseModel):
    percent: Percent
    per_core: list[Percent] = Field(max_length=1024)
    load: list[Load] = Field(min_length=3, max_length=3)
    count: Integer = Field(ge=1, le=4096)


class MemoryIn(BaseModel):
    total: Bytes
    used: Bytes
    available: Bytes
    percent: Percent


class SwapIn(BaseModel):
    total: Bytes
    used: Bytes
    percent: Percent


# Mounts and sensors become alert subjects: alerts.models sizes its subject columns from these.
MOUNT_MAX_LENGTH = 500
SENSOR_MAX_LENGTH = 200


class DiskIn(BaseModel):
    mount: Annotated[str, Field(min_length=1, max_length=MOUNT_MAX_LENGTH)]
    device: Annotated[str, Field(max_length=500)]
    fstype: Annotated[str, Field(max_length=50)]
    total: Bytes
    used: Bytes
    percent: Percent


class DiskIoIn(BaseModel):
    read_bytes_per_s: Rate
    write_bytes_per_s: Rate


class NetworkIn(BaseModel):
    interface: Annotated[str, Field(min_length=1, max_length=100)]
    rx_bytes_per_s: Rate
    tx_bytes_per_s: Rate


class TemperatureIn(BaseModel):
    sensor: Annotated[str, Field(min_length=1, max_length=SENSOR_MAX_LENGTH)]
    celsius: Annotated[float, Field(ge=-273.15, le=1000, allow_inf_nan=False, strict=True)]


class SystemIn(BaseModel):
    os: ShortText = ""
    kernel: ShortText = ""
    arch: Annotated[str, Field(max_length=50)] = ""
    hostname: Annotated[str, Field(max_length=255)] = ""
    agent_version: Annotated[str, Field(max_length=50)] = ""
    boot_time: DateTime | None = None


# checks.models.MESSAGE_MAX_LENGTH (metrics sits below checks and cannot import it).
CHECK_MESSAGE_MAX_LENGTH = 500
# An agent sends what ran since its last report: 20 checks at 20 s in a 10 s report is 10.
MAX_CHECK_RESULTS = 1000


def recent_and_aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{field} must include a time zone offset, e.g. +00:00 or Z")
    now = timezone.now()
    if value > now + timedelta(seconds=settings.FUTURE_TOLERANCE_SECONDS):
        raise ValueError(f"{field} is more than 5 minutes in the future; check the host's clock")
    if value < now - timedelta(days=settings.RETENTION_DAYS):
        raise ValueError(f"{field} is older than the retention of {settings.RETENTION_DAYS} days")
    return value.astimezone(UTC)


class CheckResultIn(BaseModel):
    """One run of a check the hub assigned to this agent (GET /api/agent/checks)."""

    check_id: Integer = Field(ge=1, le=2**63 - 1)
    ran_at: DateTime
    state: Literal["ok", "warning", "critical", "unknown"]
    latency_ms: Annotated[float, Field(ge=0, le=1e7, allow_inf_nan=False, strict=True)] | None = None
    # Refused past the limit rather than cut: the schema is strict everywhere else, and
    # the agent cuts its messages before sending (agent/service_checks.py).
    message: Annotated[str, Field(max_length=CHECK_MESSAGE_MAX_LENGTH)] = ""

    @field_validator("ran_at")
    @classmethod
    def ran_at_is_recent(cls, value: datetime) -> datetime:
        return recent_and_aware(value, "ran_at")


class ReportIn(BaseModel):
    host: str | None = Field(default=None, max_length=63)
    collected_at: DateTime
    cpu: CpuIn
    memory: MemoryIn
    swap: SwapIn
    disks: list[DiskIn] = Field(max_length=256)
    disk_io: DiskIoIn
    network: list[NetworkIn] = Field(max_length=256)
    uptime_seconds: Annotated[float, Field(ge=0, le=1e10, allow_inf_nan=False, strict=True)]
    process_count: Integer = Field(ge=0, le=10_000_000)
    temperatures: list[TemperatureIn] = Field(default_factory=list, max_length=256)
    system: SystemIn
    # Results of the service checks this agent runs; absent from agents older than them.
    checks: list[CheckResultIn] = Field(default_factory=list, max_length=MAX_CHECK_RESULTS)

    @field_validator("host")
    @classmethod
    def host_is_a_host_name(cls, value: str | None) -> str | None:
        if value is not None and not HOST_NAME_PATTERN.fullmatch(value):
            raise ValueError("host must be 1-63 characters of a-z, 0-9, '-' and '.'")
        return value

    @field_validator("collected_at")
    @classmethod
    def collected_at_is_recent(cls, value: datetime) -> datetime:
        return recent_and_aware(value, "collected_at")


# The most reports one request may carry: an agent's spool sends backlogs in batches.
MAX_REPORTS_PER_BATCH = 500


class ReportBatchIn(BaseModel):
    reports: list[ReportIn] = Field(min_length=1, max_length=MAX_REPORTS_PER_BATCH)


# Plain pydantic models, not ninja Schemas: ninja's Schema reads every field through a
# getter meant for ORM objects, which doubled the cost of validating a report.


def report_body_json_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body schema (a report or a batch) and the component schemas it refers to."""
    schema = TypeAdapter(ReportIn | ReportBatchIn).json_schema(ref_template="#/components/schemas/{model}")
    return {"oneOf": schema["anyOf"]}, schema.get("$defs", {})


class AgentUpdate(Schema):
    """The hub's agent, offered to an older agent marked for updates (hosts/agent_dist.py)."""

    version: str
    url: str  # a path on the hub, fetched over the agent's mutual-TLS session
    sha256: str


class ReportAccepted(Schema):
    accepted: int
    duplicates: int
    # Absent for agents not marked for updates; older agents ignore it.
    update: AgentUpdate | None = None
    # For agents holding a client certificate: renew it (POST /api/agent/renew) when it has
    # fewer days left than this (CERT_EXPIRY_WARNING_DAYS). Older agents ignore it.
    renew_within_days: int | None = None
    # Check results, when the reports carried any: stored, already stored (a resent
    # report), and ignored (for a check not assigned to this host, or deleted since).
    checks_accepted: int | None = None
    checks_duplicates: int | None = None
    checks_ignored: int | None = None


class ReportValid(Schema):
    valid: bool
    reports: int
