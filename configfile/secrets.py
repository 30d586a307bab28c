"""Secrets in a configuration file: written as `${STATUSDASH_…}`, read from the hub's environment.

Export never writes a channel's URL or a check's password or token in clear: it writes a
reference named after the object, and a comment on top lists the variables to set. Apply
resolves each reference from the environment of the process applying it (the hub's, for
the API); a variable that is not set is an error naming it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from configfile.spec import ENV_PREFIX, ENV_REFERENCE

# The fields that hold secrets, per kind.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {"channels": ("url",), "checks": ("password", "bearer_token")}


class UnresolvedSecret(ValueError):
    pass


def is_reference(value: object) -> bool:
    return isinstance(value, str) and ENV_REFERENCE.match(value) is not None


def resolve(value: str, environ: Mapping[str, str] | None = None) -> str:
    """The value itself, or the variable a ${NAME} reference names; UnresolvedSecret when it cannot be read."""
    match = ENV_REFERENCE.match(value)
    if match is None:
        return value
    name = match.group(1)
    if not name.startswith(ENV_PREFIX):
        raise UnresolvedSecret(f"${{{name}}}: only variables named {ENV_PREFIX}… may be referenced")
    found = (os.environ if environ is None else environ).get(name)
    if found is None:
        raise UnresolvedSecret(f"${{{name}}} is not set in the environment")
    return found


def variable_for(kind: str, name: str, field: str) -> str:
    """STATUSDASH_CHANNEL_OPS_SLACK_URL for channel ops-slack's url."""
    singular = kind.removesuffix("s").upper()
    return f"{ENV_PREFIX}{singular}_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_{field.upper()}"
