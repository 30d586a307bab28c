"""GET /api/hosts, /api/hosts/{id-or-name}, /api/hosts/sentiment/overall, and who may read them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from alerts.models import Alert
from hosts.models import ApiKey, Host

READ_URLS = ["/api/hosts", "/api/hosts/web-1", "/api/hosts/sentiment/overall"]


def report(client: Client, key: str, body: dict[str, Any]) -> None:
    response = client.post(
        "/api/metrics/report", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 202, response.content


def get(client: Client, url: str, key: str) -> Any:
    return client.get(url, HTTP_X_API_KEY=key)


@pytest.mark.django_db
@pytest.mark.parametrize("url", READ_URLS)
def test_reading_without_credentials_is_a_401(client: Client, host: Host, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 401
    assert "authentication required" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", READ_URLS)
def test_agent_key_cannot_read(client: Client, agent_key: str, url: str) -> None:
    response = get(client, url, agent_key)
    assert response.status_code == 403
    assert "agent key cannot read" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", READ_URLS)
def test_revoked_read_key_is_a_403(client: Client, host: Host, read_key: str, url: str) -> None:
    ApiKey.objects.find(read_key).revoke()  # type: ignore[union-attr]
    assert get(client, url, read_key).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("url", READ_URLS)
def test_read_key_in_bearer_header_reads(client: Client, host: Host, read_key: str, url: str) -> None:
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {read_key}").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", READ_URLS)
def test_dashboard_session_reads(client: Client, host: Host, admin_user: User, url: str) -> None:
    client.force_login(admin_user)
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_list_shows_status_latest_metrics_and_alerts(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    Host.objects.create(name="never-reported")
    report(client, agent_key, make_report())
    Alert.objects.fire("cpu", host=host, severity="critical")
    hosts = {h["name"]: h for h in get(client, "/api/hosts", read_key).json()}
    assert hosts["web-1"]["status"] == "online"
    assert hosts["web-1"]["latest"]["disk_percent"] == 72.0
    assert hosts["web-1"]["latest"]["disk_mount"] == "/data"
    assert hosts["web-1"]["active_alerts"] == 1
    assert hosts["web-1"]["system"]["cpu_count"] == 4
    assert hosts["never-reported"]["status"] == "offline"
    assert hosts["never-reported"]["latest"] is None


@pytest.mark.django_db
def test_latest_metrics_survive_a_cache_loss(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    from django.core.cache import cache

    sent = make_report()
    report(client, agent_key, sent)
    cache.clear()
    listed = get(client, "/api/hosts", read_key).json()[0]
    assert listed["latest"]["cpu_percent"] == sent["cpu"]["percent"]


@pytest.mark.django_db
def test_host_goes_stale_then_offline(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    report(client, agent_key, make_report())
    with time_machine.travel(timezone.now() + timedelta(seconds=45)):
        assert get(client, "/api/hosts", read_key).json()[0]["status"] == "stale"
    with time_machine.travel(timezone.now() + timedelta(seconds=120)):
        assert get(client, "/api/hosts", read_key).json()[0]["status"] == "offline"


@pytest.mark.django_db
def test_detail_by_name_and_by_id(client: Client, host: Host, read_key: str) -> None:
    by_name = get(client, "/api/hosts/web-1", read_key)
    by_id = get(client, f"/api/hosts/{host.pk}", read_key)
    assert by_name.status_code == by_id.status_code == 200
    assert by_name.json()["id"] == by_id.json()["id"] == host.pk


@pytest.mark.django_db
@pytest.mark.parametrize("ident", ["nope", "999999", "99999999999999999999999", "²"])
def test_unknown_host_is_a_404(client: Client, read_key: str, ident: str) -> None:
    response = get(client, f"/api/hosts/{ident}", read_key)
    assert response.status_code == 404
    assert response.json() == {"detail": f"no host {ident!r}"}


@pytest.mark.django_db
def test_unknown_range_is_a_422_naming_it(client: Client, host: Host, read_key: str) -> None:
    response = get(client, "/api/hosts/web-1?range=2h", read_key)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "range"]


@pytest.mark.django_db
def test_history_averages_each_bucket(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    from datetime import UTC, datetime

    step = 144  # 24 h / 600 points
    bucket_start = (int(timezone.now().timestamp()) // step - 3) * step
    at = [bucket_start + 1, bucket_start + 2, bucket_start + step + 5]
    cpu = [10.0, 30.0, 90.0]
    for when, value in zip(at, cpu, strict=True):
        body = make_report()
        body["collected_at"] = datetime.fromtimestamp(when, UTC).isoformat()
        body["cpu"]["percent"] = value
        report(client, agent_key, body)
    history = get(client, "/api/hosts/web-1?range=24h", read_key).json()["history"]
    assert history["step_seconds"] == step
    assert history["timestamps"] == [bucket_start, bucket_start + step]
    assert history["series"]["cpu_percent"] == [20.0, 90.0]
    assert history["series"]["cpu_max"] == [30.0, 90.0]


@pytest.mark.django_db
def test_history_has_at_most_600_points(host: Host, read_key: str, client: Client, make_report: Any) -> None:
    from metrics.models import MetricSample

    now = timezone.now()
    samples = []
    for i in range(1500):  # one every 2.4 s over the hour
        body = make_report()
        body["collected_at"] = now - timedelta(seconds=i * 2.4)
        samples.append(MetricSample.from_report(host, body))
    MetricSample.objects.bulk_create(samples)
    history = get(client, "/api/hosts/web-1?range=1h", read_key).json()["history"]
    assert 590 <= len(history["timestamps"]) <= 601
    assert all(len(series) == len(history["timestamps"]) for series in history["series"].values())


@pytest.mark.django_db
def test_sentiment_has_the_designs_shape(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    report(client, agent_key, make_report())
    body = get(client, "/api/hosts/sentiment/overall", read_key).json()
    assert body["status"] == "healthy"
    assert body["services"] == []
    assert body["hosts"] == {"online": 1, "stale": 0, "offline": 0}


@pytest.mark.django_db
def test_sentiment_is_degraded_when_a_host_is_offline(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    Host.objects.create(name="silent")
    report(client, agent_key, make_report())
    assert get(client, "/api/hosts/sentiment/overall", read_key).json()["status"] == "degraded"


@pytest.mark.django_db
def test_sentiment_is_unhealthy_when_every_host_is_offline(client: Client, host: Host, read_key: str) -> None:
    assert get(client, "/api/hosts/sentiment/overall", read_key).json()["status"] == "unhealthy"
