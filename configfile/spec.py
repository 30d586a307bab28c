"""What a configuration file may hold: one pydantic model per kind, and the JSON Schema made from them.

Each kind's fields and defaults are the models' (a field left out takes its default, so a
file says the whole truth about every object it names); what JSON Schema cannot say (a
critical level below the warning level, an Apprise URL) the models' own `clean()` refuses
when the file is applied, as the admin and the API do. Checks take exactly the API's body
(`checks.schemas.CheckIn`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from alerts.models import SERVICE_NAME_MAX_LENGTH, Metric, Severity
from checks.options import OPTIONS_BY_KIND
from checks.schemas import CheckIn

# A secret is written as a reference to the hub's environment: `${STATUSDASH_…}` only, so a
# file (or an admin through the API) can never copy the hub's own settings (SECRET_KEY,
# DATABASE_URL) into a channel URL that sends them elsewhere.
ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
ENV_PREFIX = "STATUSDASH_"
HOST_NAME = r"^[a-z0-9][a-z0-9.-]{0,62}$"
Tag = Annotated[str, Field(min_length=1, max_length=40)]


class Spec(BaseModel):
    # A misspelt field is an error, never silently ignored.
    model_config = ConfigDict(extra="forbid")


class HostSpec(Spec):
    name: str = Field(pattern=HOST_NAME, description="The agent's identity (its certificate's CN)")
    display_name: str = Field("", max_length=100)
    description: str = ""
    tags: list[Tag] = Field(default_factory=list)
    enabled: bool = True
    agent_auto_update: bool = False


class RuleSpec(Spec):
    name: str = Field(max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")
    metric: Metric
    warning_level: float
    critical_level: float | None = Field(None, description="Empty: the rule only warns")
    clear_level: float | None = Field(None, description="Resolve only below this. Empty: the warning level")
    duration_seconds: int = Field(0, ge=0, description="Fire after the level has been crossed this long")
    host: str | None = Field(None, description="Only this host, by name. Empty: all hosts")
    tag: str = Field("", max_length=40, description="Only hosts with this tag")
    subject: str = Field("", description="Only this mount or sensor (disk, temperature)")
    enabled: bool = True


class ChannelSpec(Spec):
    name: str = Field(max_length=100)
    url: str = Field(
        max_length=1000,
        description="An Apprise URL, or (as export writes it) a reference to the hub's environment: ${STATUSDASH_…}",
    )
    min_severity: Severity = Severity.WARNING
    tags: list[Tag] = Field(default_factory=list, description="Only hosts with one of these tags. Empty: all")
    send_resolved: bool = True
    enabled: bool = True


class CheckSpec(CheckIn):
    """The body of POST /api/checks; password and bearer_token may be ${STATUSDASH_…} references."""

    model_config = ConfigDict(extra="forbid")


class SilenceSpec(Spec):
    """A maintenance window. Its identity is what it covers and when it starts (docs/configuration.md)."""

    hosts: list[str] = Field(default_factory=list, description="Hosts by name")
    tags: list[Tag] = Field(default_factory=list, description="Hosts with any of these tags")
    services: list[Annotated[str, Field(max_length=SERVICE_NAME_MAX_LENGTH)]] = Field(
        default_factory=list, description="Services (and checks) by name"
    )
    hub: bool = Field(False, description="Also the hub's own alerts (about no host or service)")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=200)


SPECS: dict[str, type[Spec] | type[CheckIn]] = {
    "hosts": HostSpec,
    "rules": RuleSpec,
    "channels": ChannelSpec,
    "checks": CheckSpec,
    "silences": SilenceSpec,
}
KINDS = tuple(SPECS)  # the order of a file, and of applying: hosts first, since the others name them
VERSION = 1


class ConfigFile(Spec):
    """A statusdash configuration file. A kind left out is not touched; `[]` means none (with --prune)."""

    model_config = ConfigDict(extra="forbid", title="statusdash configuration")

    version: Literal[1] = 1
    hosts: list[HostSpec] | None = None
    rules: list[RuleSpec] | None = None
    channels: list[ChannelSpec] | None = None
    checks: list[CheckSpec] | None = None
    silences: list[SilenceSpec] | None = None


def json_schema() -> dict[str, Any]:
    """The file's JSON Schema, with each check kind's options spelled out for editors."""
    schema = ConfigFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    for kind in KINDS:
        # A kind given must be a list (apply refuses `rules:` with nothing, as it could mean
        # "none" or "forgot"); pydantic's "list or null" would also blur where an error is.
        prop = schema["properties"][kind]
        (listed,) = [choice for choice in prop.pop("anyOf") if choice.get("type") == "array"]
        prop.update(listed)
        prop.pop("default", None)
    check = schema["$defs"]["CheckSpec"]
    check["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"properties": {"options": _inline(options.model_json_schema())}},
        }
        for kind, options in OPTIONS_BY_KIND.items()
    ]
    return schema


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """An options schema without $defs of its own (none has any today; refuse quietly wrong output)."""
    if "$defs" in schema:
        raise ValueError("options schemas with $defs need merging into the file's $defs")
    return schema
