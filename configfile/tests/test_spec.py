"""The JSON Schema editors get: it accepts what export writes and refuses what the file may not hold."""

from __future__ import annotations

import jsonschema
import pytest

from alerts.models import AlertRule, NotificationChannel, Silence
from checks.models import Check
from configfile.exporting import export
from configfile.spec import SPECS, json_schema
from configfile.yamlfile import load
from hosts.models import Host


def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(text: str) -> list[str]:
    return sorted(
        "/".join(str(p) for p in error.absolute_path) or "file" for error in validator().iter_errors(load(text).data)
    )


def test_an_exported_file_is_valid(configured):
    assert problems(export()) == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("rules: [{name: r, metric: cpuu, warning_level: 1}]", "rules/0/metric"),
        ("rules: [{name: r, metric: cpu}]", "rules/0"),
        ("hosts: [{name: Web_1}]", "hosts/0/name"),
        ("hosts: [{name: web-1, colour: red}]", "hosts/0"),
        ("colours: []", "file"),
        ("version: 2", "version"),
        ("checks: [{name: s, kind: http, target: 'https://x.test/', options: {methd: GET}}]", "checks/0/options"),
        ("checks: [{name: s, kind: tls, target: 'x.test', options: {warn_days: -1}}]", "checks/0/options/warn_days"),
        (
            "silences: [{starts_at: '2030-01-01T00:00:00Z', ends_at: '2030-01-02T00:00:00Z', reason: ''}]",
            "silences/0/reason",
        ),
        ("channels: [{name: c, url: 'json://x', min_severity: info}]", "channels/0/min_severity"),
    ],
)
def test_the_schema_refuses_a_bad_file_where_it_is_bad(db, text, where):
    assert problems(text) == [where]


def test_an_option_of_another_kind_is_refused_by_the_schema(db):
    # keyword is an HTTP option, not a TCP one: the schema picks the options by kind.
    assert problems("checks: [{name: s, kind: tcp, target: 'x.test:1', options: {keyword: hi}}]") == [
        "checks/0/options"
    ]
    assert problems("checks: [{name: s, kind: http, target: 'https://x.test/', options: {keyword: hi}}]") == []


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("hosts", Host),
        ("rules", AlertRule),
        ("channels", NotificationChannel),
        ("checks", Check),
        ("silences", Silence),
    ],
)
def test_every_default_in_the_file_is_the_models_default(kind, model):
    """A field left out of a file means the model's default: they must not drift apart."""
    names = {f.name: f for f in model._meta.get_fields() if hasattr(f, "has_default")}
    for name, info in SPECS[kind].model_fields.items():
        if info.is_required() or name not in names or name in ("host", "hosts"):
            continue
        field = names[name]
        default = field.get_default() if field.has_default() else ("" if field.blank and not field.null else None)
        assert info.get_default(call_default_factory=True) == default, (kind, name)
