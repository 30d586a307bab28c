"""The hub behind a real Daphne: transport limits and the ASGI stack as deployed."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hosts.models import ApiKey, ApiKeyScope, Host
from metrics.models import MetricSample
from statusdash.tests.support import assert_stored_as_sent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def agent(live_hub: str) -> tuple[str, dict[str, str]]:
    host = Host.objects.create(name="edge-1")
    _, raw = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    return f"{live_hub}/api/metrics/report", {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}


def test_gzip_batch_over_real_http_is_stored_as_sent(agent: Any, make_report: Any) -> None:
    url, headers = agent
    reports = [make_report(seconds_ago=10), make_report()]
    body = gzip.compress(json.dumps({"reports": reports}).encode())
    response = requests.post(url, data=body, headers={**headers, "Content-Encoding": "gzip"}, timeout=10)
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0}
    samples = MetricSample.objects.filter(host__name="edge-1").order_by("collected_at")
    assert len(samples) == 2
    for sample, report in zip(samples, reports, strict=True):
        assert_stored_as_sent(sample, report)


def test_declared_oversized_body_is_a_413(agent: Any) -> None:
    url, headers = agent
    response = requests.post(url, data=b"x" * (1024 * 1024 + 1), headers=headers, timeout=10)
    assert response.status_code == 413
    assert "larger than 1048576 bytes" in response.json()["detail"]


def test_chunked_oversized_body_is_a_413(agent: Any) -> None:
    url, headers = agent

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    response = requests.post(url, data=chunks(), headers=headers, timeout=10)
    assert response.status_code == 413
    assert MetricSample.objects.count() == 0


def test_chunked_body_within_the_limit_is_stored_as_sent(agent: Any, make_report: Any) -> None:
    url, headers = agent
    report = make_report()
    payload = json.dumps(report).encode()

    def chunks() -> Iterator[bytes]:
        yield payload[:100]
        yield payload[100:]

    response = requests.post(url, data=chunks(), headers=headers, timeout=10)
    assert response.status_code == 202
    assert_stored_as_sent(MetricSample.objects.get(host__name="edge-1"), report)


def test_openapi_schema_and_docs_are_served(live_hub: str) -> None:
    schema = requests.get(f"{live_hub}/api/openapi.json", timeout=10).json()
    assert "/api/metrics/report" in schema["paths"]
    assert "/api/hosts/sentiment/overall" in schema["paths"]
    assert requests.get(f"{live_hub}/api/docs", timeout=10).status_code == 200


def test_overview_redirects_to_login(live_hub: str) -> None:
    response = requests.get(f"{live_hub}/", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/")
