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
