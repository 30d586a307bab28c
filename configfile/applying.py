"""apply: make the hub match a file. Validate all of it, show the diff, write it in one transaction.

Every object is written through its model's validation (`full_clean()`, `Check.apply_changes`)
inside one transaction, each in a savepoint, so every error in the file is found in one run
(a rule naming a host the same file creates is fine); if any is found, or for a dry run,
the transaction is rolled back and nothing was written, no push or notification went out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from pydantic import ValidationError as PydanticValidationError

from configfile import secrets
from configfile.kinds import KINDS, Context, as_text
from configfile.spec import SPECS, VERSION
from configfile.yamlfile import ConfigError, LoadedFile, Path, load
from statusdash.lib.writelock import write_transaction

# The errors listed for one file; a file of thousands of broken objects says so in one more line.
MAX_ERRORS = 200


@dataclass
class FieldChange:
    field: str
    old: Any
    new: Any
    secret: bool = False

    def line(self) -> str:
        if self.secret:
            return f"{self.field}: changed (a secret, not shown)" if self.old is not None else f"{self.field}: (secret)"
        if self.old is None and self.new is not None:
            return f"{self.field}: {shown(self.new)}"
        return f"{self.field}: {shown(self.old)} -> {shown(self.new)}"


@dataclass
class Change:
    kind: str  # "rule"
    name: str
    action: str  # create, update, delete, end
    fields: list[FieldChange] = field(default_factory=list)

    SIGNS = {"create": "+", "update": "~", "delete": "-", "end": "-"}

    def lines(self) -> list[str]:
        return [f"{self.SIGNS[self.action]} {self.action} {self.kind} {self.name}"] + [
            f"    {item.line()}" for item in self.fields
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "fields": [
                {
                    "field": item.field,
                    "old": "(secret)" if item.secret and item.old else plain(item.old),
                    "new": "(secret)" if item.secret and item.new else plain(item.new),
                }
                for item in self.fields
            ],
        }


@dataclass
class Outcome:
    changes: list[Change]
    errors: list[ConfigError]
    dry_run: bool

    @property
    def applied(self) -> bool:
        return not self.errors and not self.dry_run and bool(self.changes)

    def diff(self) -> str:
        if not self.changes:
            return "no changes"
        return "\n".join(line for change in self.changes for line in change.lines())


@dataclass
class Parsed:
    """A file read and checked against the schema: each valid object's values, by kind and index."""

    loaded: LoadedFile
    objects: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)


def parse(text: str, environ: Mapping[str, str] | None = None) -> Parsed:
    loaded = load(text)
    parsed = Parsed(loaded, errors=list(loaded.errors))
    if loaded.errors:
        return parsed
    data = loaded.data
    if not isinstance(data, dict):
        parsed.errors.append(loaded.error((), "the file must be a mapping of kinds (hosts:, rules:, …)"))
        return parsed
    for key, value in data.items():
        if key == "version":
            if value != VERSION:
                parsed.errors.append(loaded.error(("version",), f"this hub reads version {VERSION}"))
        elif key not in SPECS:
            parsed.errors.append(loaded.error((key,), f"unknown kind {key!r}: one of version, {', '.join(SPECS)}"))
        elif not isinstance(value, list):
            parsed.errors.append(loaded.error((key,), "must be a list (write [] for none)"))
        else:
            parsed.objects[key] = _parse_kind(key, value, loaded, parsed.errors, environ)
    return parsed


def _parse_kind(
    kind: str, items: list[Any], loaded: LoadedFile, errors: list[ConfigError], environ: Mapping[str, str] | None
) -> list[tuple[int, dict[str, Any]]]:
    spec, adapter = SPECS[kind], KINDS[kind]
    found: list[tuple[int, dict[str, Any]]] = []
    keys: dict[str, int] = {}
    for index, item in enumerate(items):
        try:
            values = {name: plain_enum(value) for name, value in spec.model_validate(item).model_dump().items()}
        except PydanticValidationError as error:
            for problem in error.errors(include_url=False):
                errors.append(loaded.error((kind, index, *problem["loc"]), problem["msg"]))
            continue
        unresolved = False
        for name in secrets.SECRET_FIELDS.get(kind, ()):
            try:
                values[name] = secrets.resolve(values[name], environ)
            except secrets.UnresolvedSecret as error:
                errors.append(loaded.error((kind, index, name), str(error)))
                unresolved = True
        key = adapter.key(adapter.normalize(values))
        if key in keys:
            errors.append(
                loaded.error((kind, index), f"{adapter.singular} {key!r} is given twice (also item {keys[key]})")
            )
            continue
        keys[key] = index
        if not unresolved:  # the model would only complain about the reference again
            found.append((index, values))
    return found


class _RollBack(Exception):
    """Leaves the transaction without committing: errors were found, or it was a dry run."""


def apply_text(
    text: str,
    *,
    dry_run: bool = False,
    prune: bool = False,
    user: Any = None,
    environ: Mapping[str, str] | None = None,
) -> Outcome:
    """Make the hub match the file (or, with dry_run, say what that would change)."""
    parsed = parse(text, environ)
    if parsed.loaded.data is None:  # not YAML at all: nothing to compare
        return Outcome([], parsed.errors, dry_run)
    errors = parsed.errors
    changes: list[Change] = []
    try:
        with write_transaction():
            changes = _write(parsed, prune, user, errors)
            if errors or dry_run:
                raise _RollBack
    except _RollBack:
        pass
    errors.sort(key=lambda error: (error.line or 0, error.where()))
    if len(errors) > MAX_ERRORS:
        errors[MAX_ERRORS:] = [ConfigError((), f"{len(errors) - MAX_ERRORS} more errors not listed")]
    return Outcome(changes, errors, dry_run)


def _write(parsed: Parsed, prune: bool, user: Any, errors: list[ConfigError]) -> list[Change]:
    context = Context(user=user)
    if prune and "hosts" in parsed.objects:
        named = {values["name"] for _, values in parsed.objects["hosts"]}
        context.doomed_hosts = set(KINDS["hosts"].rows()) - named
    changes: list[Change] = []
    wanted: dict[str, set[str]] = {}
    # In the kinds' order, not the file's: a rule may name a host the file lists after it.
    for kind in (kind for kind in KINDS if kind in parsed.objects):
        objects, adapter = parsed.objects[kind], KINDS[kind]
        stored = adapter.rows()
        wanted[kind] = set()
        for index, values in objects:
            desired = adapter.normalize(values)
            key = adapter.key(desired)
            wanted[kind].add(key)
            doomed = [(name, host) for name, host in adapter.hosts_named(desired) if host in context.doomed_hosts]
            for name, host in doomed:
                message = f"host {host!r} is not in the file's hosts, and --prune deletes it"
                errors.append(parsed.loaded.error((kind, index, name), message))
            if doomed:
                continue
            row = stored.get(key)
            before = adapter.current(row) if row is not None else None
            fields = _field_changes(kind, before, desired)
            if before is not None and not fields:
                continue
            try:
                with transaction.atomic():
                    adapter.write(row, desired, context)
            except ValidationError as error:
                messages = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
                for name, texts in messages.items():
                    path: Path = (kind, index, name) if name in values else (kind, index)
                    errors.extend(parsed.loaded.error(path, text) for text in texts)
                continue
            except DatabaseError as error:  # a constraint the validation did not foresee
                errors.append(parsed.loaded.error((kind, index), f"the database refused it: {error}"))
                continue
            changes.append(Change(adapter.singular, key, "update" if before else "create", fields))
    if prune:
        # Hosts last, so a rule or check the file's rules or checks no longer name is listed as
        # removed on its own line before its host's deletion would take it along unlisted.
        for kind in reversed(list(KINDS)):
            if kind not in parsed.objects:
                continue
            adapter = KINDS[kind]
            for key, row in sorted(adapter.rows().items()):
                if key not in wanted[kind] and adapter.prunable(row):
                    changes.append(Change(adapter.singular, key, adapter.remove(row, context)))
    return changes


def _field_changes(kind: str, before: dict[str, Any] | None, desired: dict[str, Any]) -> list[FieldChange]:
    secret_fields = secrets.SECRET_FIELDS.get(kind, ())
    spec = SPECS[kind]
    changes = []
    for name, new in desired.items():
        if before is None:
            default = spec.model_fields[name].get_default(call_default_factory=True)
            if spec.model_fields[name].is_required() or new != plain_enum(default):
                changes.append(FieldChange(name, None, new, name in secret_fields))
        elif before[name] != new:
            changes.append(FieldChange(name, before[name], new, name in secret_fields))
    return changes


def plain_enum(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def plain(value: Any) -> Any:
    """A value as JSON carries it."""
    return as_text(value) if isinstance(value, datetime) else plain_enum(value)


def shown(value: Any) -> str:
    value = plain(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)
