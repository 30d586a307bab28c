"""The OpenAPI document is complete: clients and fuzzers can follow every reference."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client


@pytest.mark.django_db
def test_every_reference_in_the_schema_resolves(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()
    text = json.dumps(schema)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert {"ReportIn", "ReportBatchIn"} <= refs
    assert refs <= set(schema["components"]["schemas"])


@pytest.mark.django_db
def test_report_body_is_a_report_or_a_batch(client: Client) -> None:
    schema: Any = client.get("/api/openapi.json").json()
    body = schema["paths"]["/api/metrics/report"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {
        "oneOf": [{"$ref": "#/components/schemas/ReportIn"}, {"$ref": "#/components/schemas/ReportBatchIn"}]
    }
    batch = schema["components"]["schemas"]["ReportBatchIn"]["properties"]["reports"]
    assert batch["maxItems"] == 500


NEW_ROUTES = {
    ("get", "/api/alerts"),
    ("get", "/api/alerts/{alert_id}"),
    ("post", "/api/alerts/{alert_id}/ack"),
    ("delete", "/api/alerts/{alert_id}/ack"),
    ("get", "/api/silences"),
    ("post", "/api/silences"),
    ("get", "/api/silences/{silence_id}"),
    ("patch", "/api/silences/{silence_id}"),
    ("post", "/api/silences/{silence_id}/expire"),
    ("get", "/api/rules"),
    ("post", "/api/rules"),
    ("patch", "/api/rules/{rule_id}"),
    ("delete", "/api/rules/{rule_id}"),
    ("post", "/api/channels"),
    ("post", "/api/channels/{channel_id}/test"),
    ("post", "/api/hosts"),
    ("patch", "/api/hosts/{ident}"),
    ("delete", "/api/hosts/{ident}"),
    ("post", "/api/hosts/{ident}/keys"),
    ("post", "/api/hosts/{ident}/enrollment-tokens"),
    ("get", "/api/services"),
    ("put", "/api/services/{name}/override"),
    ("get", "/api/alertmanager/api/v2/alerts"),
}


@pytest.mark.django_db
def test_the_operator_routes_are_documented_with_their_errors(client: Client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    operations = {(method, path): op for path, item in paths.items() for method, op in item.items()}
    assert operations.keys() >= NEW_ROUTES
    for key in NEW_ROUTES:
        responses = operations[key]["responses"]
        assert {"401", "403"} <= set(responses), key
        if "{" in key[1] and "alertmanager" not in key[1]:
            assert responses["404"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"
            }


@pytest.mark.django_db
def test_creates_take_an_idempotency_key_and_changes_an_if_match(client: Client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    # Not creates of objects a person keeps: logging in, enrollment, a certificate's renewal.
    not_kept = {("post", "/api/auth/token"), ("post", "/api/enroll"), ("post", "/api/agent/renew")}
    # Not conditional: acknowledging (its own conflict rule), revoking a key or token (one-way switches).
    unconditional = {
        ("delete", "/api/alerts/{alert_id}/ack"),
        ("delete", "/api/hosts/{ident}/keys/{key_id}"),
        ("delete", "/api/tokens/{token_id}"),
    }
    for path, item in paths.items():
        for method, operation in item.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if "201" in operation["responses"] and (method, path) not in not_kept:
                assert "Idempotency-Key" in headers, (method, path)
            if method in ("patch", "delete", "put") and (method, path) not in unconditional:
                assert "If-Match" in headers and "412" in operation["responses"], (method, path)


@pytest.mark.django_db
def test_bodies_and_answers_carry_examples(client: Client) -> None:
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    for name in ("SilenceIn", "AlertOut", "SilenceOut"):
        assert schemas[name].get("examples"), name
    assert schemas["RuleIn"]["properties"]["name"]["examples"] == ["disk-full"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/hosts/a%2Fb/keys", "/api/services/a%2Fb", "/api/no-such-route"])
def test_a_path_no_route_takes_is_a_json_404(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no such API route")
