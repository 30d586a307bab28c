"""GET /health."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from conftest import REDIS_TEST_URL


@pytest.mark.django_db
def test_health_reports_the_database(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "up"
    assert "redis" not in body["checks"]


@pytest.mark.django_db
def test_health_is_503_when_the_database_is_unreachable(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_cursor(*args: Any, **kwargs: Any) -> Any:
        raise connection.Database.OperationalError("unable to open database file")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "down", "error": "OperationalError"}


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_health_is_degraded_when_redis_is_down(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["redis"]["status"] == "down"


@pytest.mark.redis
@pytest.mark.django_db
def test_health_reports_redis_when_configured(client: Client) -> None:
    with override_settings(REDIS_URL=REDIS_TEST_URL):
        body = client.get("/health").json()
    assert body["checks"]["redis"]["status"] == "up"
    assert body["status"] == "ok"


@pytest.mark.django_db
def test_health_needs_no_login_and_is_never_cached(client: Client) -> None:
    response = client.get("/health")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
