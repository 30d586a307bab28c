"""export: everything a person configured, as a file apply takes back, in a stable order.

Objects are sorted by name (silences by start, then what they cover), fields in the
schema's order, and a field at its default is left out (apply gives it its default back).
Secrets are written as ${STATUSDASH_…} references; the comment on top lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from configfile import secrets
from configfile.applying import plain_enum
from configfile.kinds import KINDS, as_text
from configfile.spec import SPECS, VERSION
from configfile.yamlfile import dump


@dataclass(frozen=True)
class Secret:
    variable: str
    about: str  # "channel ops, url"
    value: str


def export(kinds: Iterable[str] | None = None) -> str:
    return export_with_secrets(kinds)[0]


def export_with_secrets(kinds: Iterable[str] | None = None) -> tuple[str, list[Secret]]:
    """The file, and the secrets it references (for `export --secrets-file`, never for the file)."""
    chosen = set(kinds) if kinds is not None else set(KINDS)
    unknown = chosen - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {', '.join(sorted(unknown))}: choose among {', '.join(KINDS)}")
    document: dict[str, Any] = {"version": VERSION}
    variables: list[Secret] = []
    for kind, adapter in KINDS.items():
        if kind not in chosen:
            continue
        rows = [adapter.current(row) for row in adapter.rows().values() if adapter.exported(row)]
        rows.sort(
            key=lambda values: (as_text(values["starts_at"]) if "starts_at" in values else "", adapter.key(values))
        )
        document[kind] = [_written(kind, values, variables) for values in rows]
    header = [
        "statusdash configuration (manage.py export). Apply with: manage.py apply FILE [--dry-run] [--prune]",
        "Schema: /api/config/schema.json. Reference: docs/configuration.md.",
    ]
    if variables:
        header += ["", "Secrets are not in this file. Set these in the environment of whatever applies it:"]
        header += [f"  {secret.variable}: {secret.about}" for secret in variables]
    return dump(document, header), variables


def _written(kind: str, values: dict[str, Any], variables: list[Secret]) -> dict[str, Any]:
    spec = SPECS[kind]
    written: dict[str, Any] = {}
    for name, info in spec.model_fields.items():
        value = values[name]
        if not info.is_required() and value == plain_enum(info.get_default(call_default_factory=True)):
            continue
        if name in secrets.SECRET_FIELDS.get(kind, ()):
            variable = secrets.variable_for(kind, values["name"], name)
            variables.append(Secret(variable, f"{kind.removesuffix('s')} {values['name']}, {name}", value))
            value = f"${{{variable}}}"
        written[name] = as_text(value) if isinstance(value, datetime) else plain_enum(value)
    return written
