"""POST /api/events: each event type, batches, who may send, and every refusal."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from alerts.models import Alert, AlertState
from hosts.models import ApiKey, ApiKeyScope
from services.models import ServiceEvent, ServiceHealth

URL = "/api/events"


@pytest.fixture
def service_key(db: Any) -> str:
    _, raw = ApiKey.issue(ApiKeyScope.SERVICE, service="seo")
    return raw


def iso(seconds_ago: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


def healthy(seconds_ago: float = 0, service: str = "seo", **extra: Any) -> dict[str, Any]:
    payload = {"serviceName": service, "checkedAt": iso(seconds_ago), **extra}
    return {"type": "SYSTEM_SERVICE_HEALTHY", "payload": payload}


def unhealthy(seconds_ago: float = 0, error: str = "database unreachable") -> dict[str, Any]:
    payload = {"serviceName": "seo", "checkedAt": iso(seconds_ago), "errorMessage": error}
    return {"type": "SYSTEM_SERVICE_UNHEALTHY", "payload": payload}


def post(client: Client, body: Any, key: str | None, raw: bytes | None = None, **headers: str) -> Any:
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers)


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.content
    return [error["loc"] for error in response.json()["detail"]]


@pytest.mark.django_db
def test_healthy_event_sets_state_and_metrics(client: Client, service_key: str) -> None:
    response = post(client, healthy(metrics={"queueDepth": 42, "activeJobs": 3}), service_key)
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1, "outdated": 0, "duplicates": 0}
    service = ServiceHealth.objects.get(name="seo")
    assert service.status == "healthy"
    assert service.metrics == {"queueDepth": 42, "activeJobs": 3}
    assert service.since is not None and service.last_check is not None
    assert ServiceEvent.objects.get().via == "http"


@pytest.mark.django_db
def test_unhealthy_event_raises_a_critical_alert(client: Client, service_key: str) -> None:
    assert post(client, unhealthy(), service_key).status_code == 202
    service = ServiceHealth.objects.get(name="seo")
    assert (service.status, service.last_error) == ("unhealthy", "database unreachable")
    alert = Alert.objects.get(rule="health-seo")
    assert (alert.host, alert.subject, alert.severity, alert.state) == (None, "seo", "critical", "firing")
    assert "database unreachable" in alert.message


@pytest.mark.django_db
def test_next_healthy_event_resolves_the_health_alert(client: Client, service_key: str) -> None:
    post(client, unhealthy(seconds_ago=10), service_key)
    post(client, healthy(), service_key)
    assert Alert.objects.get(rule="health-seo").state == AlertState.RESOLVED
    assert ServiceHealth.objects.get(name="seo").last_error == ""


@pytest.mark.django_db
def test_alert_triggered_event_appears_in_the_alert_list(client: Client, service_key: str) -> None:
    event = {
        "type": "SYSTEM_ALERT_TRIGGERED",
        "payload": {
            "alertId": "queue-backlog",
            "serviceName": "seo",
            "severity": "high",
            "message": "queue above 1000",
            "triggeredAt": iso(),
        },
    }
    assert post(client, event, service_key).status_code == 202
    alert = Alert.objects.firing().get(rule="event:queue-backlog")
    assert (alert.subject, alert.severity, alert.message) == ("seo", "critical", "queue above 1000")


@pytest.mark.django_db
def test_alert_resolved_event_resolves_it(client: Client, service_key: str) -> None:
    trigger = {
        "alertId": "queue-backlog",
        "serviceName": "seo",
        "severity": "medium",
        "message": "queue above 1000",
        "triggeredAt": iso(60),
    }
    post(client, {"type": "SYSTEM_ALERT_TRIGGERED", "payload": trigger}, service_key)
    resolve = {"alertId": "queue-backlog", "serviceName": "seo", "resolvedAt": iso()}
    assert post(client, {"type": "SYSTEM_ALERT_RESOLVED", "payload": resolve}, service_key).status_code == 202
    alert = Alert.objects.get(rule="event:queue-backlog")
    assert (alert.state, alert.severity) == (AlertState.RESOLVED, "warning")


@pytest.mark.django_db
def test_batch_is_applied_whole(client: Client, service_key: str) -> None:
    batch = {"events": [healthy(30), unhealthy(20), healthy(10, metrics={"activeJobs": 1})]}
    response = post(client, batch, service_key)
    assert response.json() == {"accepted": 3, "outdated": 0, "duplicates": 0}
    service = ServiceHealth.objects.get(name="seo")
    assert (service.status, service.metrics) == ("healthy", {"activeJobs": 1})
    assert ServiceEvent.objects.count() == 3


@pytest.mark.django_db
def test_gzip_body_is_accepted(client: Client, service_key: str) -> None:
    body = gzip.compress(json.dumps(healthy()).encode())
    response = post(client, None, service_key, raw=body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 202


@pytest.mark.django_db
def test_x_api_key_header_is_accepted(client: Client, service_key: str) -> None:
    assert post(client, healthy(), None, HTTP_X_API_KEY=service_key).status_code == 202


@pytest.mark.django_db
def test_without_a_key_is_a_401(client: Client) -> None:
    response = post(client, healthy(), None)
    assert response.status_code == 401
    assert "apikey create --service" in response.json()["detail"]


@pytest.mark.django_db
def test_unknown_key_is_a_401(client: Client) -> None:
    assert post(client, healthy(), "sd_not-a-key").status_code == 401


@pytest.mark.django_db
def test_read_key_cannot_send_events(client: Client, read_key: str) -> None:
    response = post(client, healthy(), read_key)
    assert response.status_code == 403
    assert ServiceHealth.objects.count() == 0


@pytest.mark.django_db
def test_agent_key_cannot_send_events(client: Client, agent_key: str) -> None:
    assert post(client, healthy(), agent_key).status_code == 403


@pytest.mark.django_db
def test_revoked_service_key_is_a_403(client: Client) -> None:
    key, raw = ApiKey.issue(ApiKeyScope.SERVICE, service="seo")
    key.revoke()
    assert post(client, healthy(), raw).status_code == 403


@pytest.mark.django_db
def test_key_for_another_service_is_refused_naming_the_field(client: Client, service_key: str) -> None:
    assert locs(post(client, healthy(service="billing"), service_key)) == [["body", "payload", "serviceName"]]
    assert ServiceHealth.objects.count() == 0


@pytest.mark.django_db
def test_other_service_inside_a_batch_refuses_the_whole_batch(client: Client, service_key: str) -> None:
    response = post(client, {"events": [healthy(10), healthy(service="billing")]}, service_key)
    assert locs(response) == [["body", "events", 1, "payload", "serviceName"]]
    assert ServiceEvent.objects.count() == 0 and ServiceHealth.objects.count() == 0


@pytest.mark.django_db
def test_malformed_json_is_a_400(client: Client, service_key: str) -> None:
    response = post(client, None, service_key, raw=b"{not json")
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["detail"]


@pytest.mark.django_db
def test_metric_overflowing_a_float_is_a_422(client: Client, service_key: str) -> None:
    raw = json.dumps(healthy()).replace('"checkedAt"', '"metrics": {"x": 1e400}, "checkedAt"').encode()
    assert locs(post(client, None, service_key, raw=raw))[0][:4] == ["body", "payload", "metrics", "x"]


@pytest.mark.django_db
def test_nan_metric_is_refused(client: Client, service_key: str) -> None:
    raw = json.dumps(healthy()).replace('"checkedAt"', '"metrics": {"x": NaN}, "checkedAt"').encode()
    assert post(client, None, service_key, raw=raw).status_code == 400


BAD_EVENTS: list[tuple[str, Any, list[Any]]] = [
    ("not an object", ["x"], ["body"]),
    ("missing type", {"payload": {}}, ["body", "type"]),
    ("unknown type", {"type": "SYSTEM_SERVICE_SLEEPY", "payload": {}}, ["body", "type"]),
    ("type not a string", {"type": ["SYSTEM_SERVICE_HEALTHY"], "payload": {}}, ["body", "type"]),
    ("type null", {"type": None, "payload": {}}, ["body", "type"]),
    ("missing payload", {"type": "SYSTEM_SERVICE_HEALTHY"}, ["body", "payload"]),
    ("payload not an object", {"type": "SYSTEM_SERVICE_HEALTHY", "payload": [1]}, ["body", "payload"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "body", "loc"), BAD_EVENTS, ids=[c[0] for c in BAD_EVENTS])
def test_bad_envelope_is_a_422(client: Client, service_key: str, case: str, body: Any, loc: list[Any]) -> None:
    assert locs(post(client, body, service_key)) == [loc]


def _payload_without(field: str) -> dict[str, Any]:
    event = healthy()
    del event["payload"][field]
    return event


def _with(**changes: Any) -> dict[str, Any]:
    event = healthy()
    event["payload"].update(changes)
    return event


BAD_PAYLOADS: list[tuple[str, dict[str, Any], str]] = [
    ("missing serviceName", _payload_without("serviceName"), "serviceName"),
    ("missing checkedAt", _payload_without("checkedAt"), "checkedAt"),
    ("empty serviceName", _with(serviceName=""), "serviceName"),
    ("serviceName with spaces", _with(serviceName="my service"), "serviceName"),
    ("serviceName too long", _with(serviceName="s" * 81), "serviceName"),
    ("checkedAt not a time", _with(checkedAt="yesterday"), "checkedAt"),
    ("checkedAt without zone", _with(checkedAt="2026-01-10T12:00:00"), "checkedAt"),
    ("checkedAt far in the future", _with(checkedAt=iso(-3600)), "checkedAt"),
    ("checkedAt older than retention", _with(checkedAt=iso(86400 * 400)), "checkedAt"),
    ("metrics not an object", _with(metrics=[1, 2]), "metrics"),
    ("metrics with nested object", _with(metrics={"a": {"b": 1}}), "metrics"),
    ("metrics too large", _with(metrics={f"k{i}": "x" * 200 for i in range(60)}), "metrics"),
    ("metrics with too many keys", _with(metrics={f"k{i}": i for i in range(101)}), "metrics"),
    ("metric name with NUL", _with(metrics={"a\x00b": 1}), "metrics"),
    ("metric text with NUL", _with(metrics={"a": "x\x00"}), "metrics"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "body", "field"), BAD_PAYLOADS, ids=[c[0] for c in BAD_PAYLOADS])
def test_bad_health_payload_is_a_422_naming_the_field(
    client: Client, service_key: str, case: str, body: dict[str, Any], field: str
) -> None:
    found = locs(post(client, body, service_key))
    assert found and all(loc[:3] == ["body", "payload", field] for loc in found), found
    assert ServiceHealth.objects.count() == 0


def _alert(**changes: Any) -> dict[str, Any]:
    payload = {
        "alertId": "a1",
        "serviceName": "seo",
        "severity": "high",
        "message": "m",
        "triggeredAt": iso(),
        **changes,
    }
    return {"type": "SYSTEM_ALERT_TRIGGERED", "payload": {k: v for k, v in payload.items() if v is not None}}


BAD_ALERTS: list[tuple[str, dict[str, Any], str]] = [
    ("missing alertId", _alert(alertId=None), "alertId"),
    ("alertId with spaces", _alert(alertId="a b"), "alertId"),
    ("unknown severity", _alert(severity="apocalyptic"), "severity"),
    ("missing message", _alert(message=None), "message"),
    ("message too long", _alert(message="m" * 2001), "message"),
    ("missing triggeredAt", _alert(triggeredAt=None), "triggeredAt"),
    ("triggeredAt in the future", _alert(triggeredAt=iso(-3600)), "triggeredAt"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "body", "field"), BAD_ALERTS, ids=[c[0] for c in BAD_ALERTS])
def test_bad_alert_payload_is_a_422_naming_the_field(
    client: Client, service_key: str, case: str, body: dict[str, Any], field: str
) -> None:
    assert locs(post(client, body, service_key)) == [["body", "payload", field]]
    assert Alert.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("error", ["e" * 2001, "bad\x00byte"], ids=["too long", "NUL"])
def test_bad_error_message_is_a_422(client: Client, service_key: str, error: str) -> None:
    assert locs(post(client, unhealthy(error=error), service_key)) == [["body", "payload", "errorMessage"]]


@pytest.mark.django_db
def test_resolved_in_the_future_is_a_422(client: Client, service_key: str) -> None:
    body = {
        "type": "SYSTEM_ALERT_RESOLVED",
        "payload": {"alertId": "a1", "serviceName": "seo", "resolvedAt": iso(-3600)},
    }
    assert locs(post(client, body, service_key)) == [["body", "payload", "resolvedAt"]]


@pytest.mark.django_db
def test_bad_event_in_a_batch_refuses_the_whole_batch(client: Client, service_key: str) -> None:
    batch = {"events": [healthy(20), _with(checkedAt="soon")]}
    assert locs(post(client, batch, service_key)) == [["body", "events", 1, "payload", "checkedAt"]]
    assert ServiceEvent.objects.count() == 0 and ServiceHealth.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("events", [[], "nope", [{"type": "x"}] * 501], ids=["empty", "not a list", "too many"])
def test_bad_batch_is_a_422(client: Client, service_key: str, events: Any) -> None:
    assert locs(post(client, {"events": events}, service_key)) == [["body", "events"]]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_events_over_real_http_reach_the_sentiment(live_hub: str, service_key: str, read_key: str) -> None:
    import requests

    batch = {"events": [healthy(10, metrics={"activeJobs": 2}), unhealthy(0, error="disk full")]}
    response = requests.post(
        f"{live_hub}{URL}", json=batch, headers={"Authorization": f"Bearer {service_key}"}, timeout=10
    )
    assert response.status_code == 202, response.text
    sentiment = requests.get(f"{live_hub}/api/hosts/sentiment/overall", headers={"X-API-Key": read_key}, timeout=10)
    assert sentiment.json()["status"] == "unhealthy"
    assert sentiment.json()["services"][0]["error"] == "disk full"


@pytest.mark.django_db
def test_gzip_bomb_is_a_413(client: Client, service_key: str, settings: Any) -> None:
    settings.MAX_REPORT_BYTES = 1024
    body = gzip.compress(json.dumps(healthy(metrics={"pad": "x" * 190})).encode() + b" " * 4096)
    response = post(client, None, service_key, raw=body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert ServiceHealth.objects.count() == 0
