"""POST /api/metrics/report: what is stored, what is refused, and why."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from django.test import Client, override_settings

from hosts.models import ApiKey, ApiKeyScope, Host
from metrics.models import MetricSample
from statusdash.tests.support import assert_stored_as_sent

URL = "/api/metrics/report"


def post(client: Client, body: Any, key: str | None = None, raw: bytes | None = None, **headers: str) -> Any:
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers)


def field_locs(response: Any) -> list[list[Any]]:
    return [error["loc"] for error in response.json()["detail"]]


@pytest.mark.django_db
def test_report_is_stored_and_updates_host(client: Client, host: Host, agent_key: str, make_report: Any) -> None:
    report = make_report()
    response = post(client, report, agent_key)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0}
    sample = MetricSample.objects.get(host=host)
    assert sample.cpu_percent == report["cpu"]["percent"]
    assert sample.disk_percent == 72.0  # the fullest mount, not the first
    assert sample.detail["per_core"] == report["cpu"]["per_core"]
    host.refresh_from_db()
    assert host.last_seen is not None and host.first_seen is not None
    assert host.os == report["system"]["os"]
    assert host.cpu_count == 4


@pytest.mark.django_db
def test_resent_report_is_stored_once(client: Client, host: Host, agent_key: str, make_report: Any) -> None:
    report = make_report()
    post(client, report, agent_key)
    response = post(client, report, agent_key)
    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 1}
    assert MetricSample.objects.filter(host=host).count() == 1


@pytest.mark.django_db
def test_batch_is_stored_with_duplicates_counted(client: Client, host: Host, agent_key: str, make_report: Any) -> None:
    first = make_report(seconds_ago=30)
    post(client, first, agent_key)
    batch = {"reports": [first, make_report(seconds_ago=20), make_report(seconds_ago=10)]}
    response = post(client, batch, agent_key)
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 1}
    assert MetricSample.objects.filter(host=host).count() == 3


@pytest.mark.django_db
def test_batch_with_one_bad_report_stores_nothing(client: Client, host: Host, agent_key: str, make_report: Any) -> None:
    bad = make_report(seconds_ago=10)
    bad["cpu"]["percent"] = 150
    response = post(client, {"reports": [make_report(seconds_ago=20), bad]}, agent_key)
    assert response.status_code == 422
    assert ["body", "reports", 1, "cpu", "percent"] in field_locs(response)
    assert MetricSample.objects.count() == 0
    host.refresh_from_db()
    assert host.last_seen is None


@pytest.mark.django_db
def test_gzip_body_is_stored_as_sent(client: Client, host: Host, agent_key: str, make_report: Any) -> None:
    report = make_report()
    body = gzip.compress(json.dumps(report).encode())
    response = post(client, None, agent_key, raw=body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 202
    assert_stored_as_sent(MetricSample.objects.get(host=host), report)


@pytest.mark.django_db
def test_broken_gzip_is_a_400(client: Client, agent_key: str) -> None:
    response = post(client, None, agent_key, raw=b"not gzip", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert "gzip" in response.json()["detail"]


@pytest.mark.django_db
def test_gzip_bomb_is_a_413(client: Client, agent_key: str) -> None:
    body = gzip.compress(b"[" + b" " * 2_000_000 + b"]")  # twice MAX_REPORT_BYTES inflated
    response = post(client, None, agent_key, raw=body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
def test_unknown_content_encoding_is_a_415(client: Client, agent_key: str, make_report: Any) -> None:
    response = post(client, make_report(), agent_key, HTTP_CONTENT_ENCODING="br")
    assert response.status_code == 415
    assert "Content-Encoding" in response.json()["detail"]


@pytest.mark.django_db
def test_malformed_json_is_a_400(client: Client, agent_key: str) -> None:
    response = post(client, None, agent_key, raw=b'{"collected_at": ')
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["detail"]


@pytest.mark.django_db
def test_json_that_is_not_an_object_is_a_422(client: Client, agent_key: str) -> None:
    response = post(client, [1, 2, 3], agent_key)
    assert response.status_code == 422
    assert field_locs(response) == [["body"]]


@pytest.mark.django_db
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client: Client, agent_key: str, make_report: Any, constant: str) -> None:
    text = json.dumps(make_report()).replace('"percent": 0.0', f'"percent": {constant}', 1)
    assert constant in text
    response = post(client, None, agent_key, raw=text.encode())
    assert response.status_code == 400
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("cpu", "percent"), 100.5),
        (("cpu", "percent"), -1),
        (("memory", "percent"), 101),
        (("memory", "used"), -5),
        (("swap", "total"), -1),
        (("disk_io", "read_bytes_per_s"), -0.1),
        (("cpu", "percent"), "high"),
        (("cpu", "load"), [1, 2]),
        (("process_count"), -1),
        (("uptime_seconds"), "a day"),
        (("collected_at"), "yesterday"),
        (("collected_at"), "2026-01-01T00:00:00"),
    ],
)
def test_invalid_field_is_a_422_naming_it(
    client: Client, agent_key: str, make_report: Any, path: Any, value: Any
) -> None:
    report = make_report()
    path = (path,) if isinstance(path, str) else path
    target = report
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    response = post(client, report, agent_key)
    assert response.status_code == 422
    assert ["body", *path] in field_locs(response)
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("cpu", "percent"), "5.5"),
        (("cpu", "percent"), True),
        (("cpu", "per_core", 0), "12"),
        (("cpu", "count"), "4"),
        (("memory", "total"), True),
        (("collected_at",), int(time.time())),  # now, as a Unix time
        (("system", "boot_time"), 0),
    ],
    ids=[
        "number-as-text",
        "boolean-as-number",
        "core-as-text",
        "integer-as-text",
        "boolean-as-integer",
        "collected-at-as-unix-time",
        "boot-time-as-number",
    ],
)
def test_a_value_of_another_json_type_than_documented_is_a_422(
    client: Client, agent_key: str, make_report: Any, path: tuple[Any, ...], value: Any
) -> None:
    # Pydantic's lax mode took these; the OpenAPI document (and so the agent) says otherwise.
    report = make_report()
    target = report
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    response = post(client, report, agent_key)
    assert response.status_code == 422
    assert ["body", *path] in field_locs(response)
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
def test_a_whole_number_written_as_a_float_is_an_integer(
    client: Client, host: Host, agent_key: str, make_report: Any
) -> None:
    # JSON Schema's integer includes 4.0, so the hub takes it too.
    report = make_report()
    report["cpu"]["count"] = 4.0
    assert post(client, report, agent_key).status_code == 202
    host.refresh_from_db()
    assert host.cpu_count == 4


@pytest.mark.django_db
def test_negative_disk_usage_names_the_disk(client: Client, agent_key: str, make_report: Any) -> None:
    report = make_report()
    report["disks"][1]["used"] = -1
    response = post(client, report, agent_key)
    assert response.status_code == 422
    assert ["body", "disks", 1, "used"] in field_locs(response)


@pytest.mark.django_db
def test_missing_field_is_a_422(client: Client, agent_key: str, make_report: Any) -> None:
    report = make_report()
    del report["memory"]
    response = post(client, report, agent_key)
    assert response.status_code == 422
    assert ["body", "memory"] in field_locs(response)


@pytest.mark.django_db
def test_report_from_the_future_is_refused(client: Client, agent_key: str, make_report: Any) -> None:
    response = post(client, make_report(seconds_ago=-600), agent_key)
    assert response.status_code == 422
    assert ["body", "collected_at"] in field_locs(response)
    assert "future" in response.json()["detail"][0]["msg"]


@pytest.mark.django_db
def test_report_a_little_ahead_is_accepted(client: Client, agent_key: str, make_report: Any) -> None:
    # Clocks drift; up to five minutes ahead is tolerated.
    response = post(client, make_report(seconds_ago=-120), agent_key)
    assert response.status_code == 202


@pytest.mark.django_db
@override_settings(RETENTION_DAYS=1)
def test_report_older_than_retention_is_refused(client: Client, agent_key: str, make_report: Any) -> None:
    response = post(client, make_report(seconds_ago=2 * 86400), agent_key)
    assert response.status_code == 422
    assert "retention" in response.json()["detail"][0]["msg"]


@pytest.mark.django_db
def test_batch_over_500_is_refused(client: Client, agent_key: str, make_report: Any) -> None:
    report = make_report()
    response = post(client, {"reports": [report] * 501}, agent_key)
    assert response.status_code == 422
    assert ["body", "reports"] in field_locs(response)


@pytest.mark.django_db
def test_empty_batch_is_refused(client: Client, agent_key: str) -> None:
    response = post(client, {"reports": []}, agent_key)
    assert response.status_code == 422
    assert ["body", "reports"] in field_locs(response)


@pytest.mark.django_db
def test_host_mismatch_is_refused(client: Client, agent_key: str, make_report: Any) -> None:
    Host.objects.create(name="db-1")
    response = post(client, make_report(host="db-1"), agent_key)
    assert response.status_code == 422
    assert field_locs(response) == [["body", "host"]]
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
def test_host_mismatch_in_batch_names_the_report(client: Client, agent_key: str, make_report: Any) -> None:
    batch = {"reports": [make_report(seconds_ago=5, host="web-1"), make_report(host="db-1")]}
    response = post(client, batch, agent_key)
    assert response.status_code == 422
    assert field_locs(response) == [["body", "reports", 1, "host"]]


@pytest.mark.django_db
def test_matching_host_field_is_accepted(client: Client, agent_key: str, make_report: Any) -> None:
    assert post(client, make_report(host="web-1"), agent_key).status_code == 202


@pytest.mark.django_db
def test_no_credentials_is_a_401(client: Client, make_report: Any) -> None:
    response = post(client, make_report())
    assert response.status_code == 401
    assert "credentials" in response.json()["detail"]


@pytest.mark.django_db
def test_unknown_key_is_a_401(client: Client, make_report: Any) -> None:
    response = post(client, make_report(), "sd_not-a-real-key")
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown API key"


@pytest.mark.django_db
def test_key_in_x_api_key_header_is_accepted(client: Client, agent_key: str, make_report: Any) -> None:
    response = post(client, make_report(), HTTP_X_API_KEY=agent_key)
    assert response.status_code == 202


@pytest.mark.django_db
def test_revoked_key_is_a_403(client: Client, agent_key: str, make_report: Any) -> None:
    ApiKey.objects.find(agent_key).revoke()  # type: ignore[union-attr]
    response = post(client, make_report(), agent_key)
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


@pytest.mark.django_db
def test_read_key_cannot_report(client: Client, read_key: str, make_report: Any) -> None:
    response = post(client, make_report(), read_key)
    assert response.status_code == 403
    assert "read key cannot report" in response.json()["detail"]


@pytest.mark.django_db
def test_disabled_host_is_a_403(client: Client, host: Host, agent_key: str, make_report: Any) -> None:
    host.enabled = False
    host.save()
    response = post(client, make_report(), agent_key)
    assert response.status_code == 403
    assert "disabled" in response.json()["detail"]
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
@override_settings(MTLS_ENABLED=True)
def test_api_key_is_refused_when_mtls_is_on(client: Client, agent_key: str, make_report: Any) -> None:
    response = post(client, make_report(), agent_key)
    assert response.status_code == 401
    assert "certificate is required" in response.json()["detail"]


@pytest.mark.django_db
def test_latest_cache_keeps_the_newest_when_an_older_report_arrives(
    client: Client, host: Host, agent_key: str, make_report: Any
) -> None:
    from metrics.latest import latest_for

    newest = make_report(seconds_ago=0)
    older = make_report(seconds_ago=60)
    post(client, newest, agent_key)
    post(client, older, agent_key)
    assert (
        latest_for([host.pk])[host.pk]["collected_at"]
        == MetricSample.objects.latest("collected_at").collected_at.isoformat()
    )


def test_service_key_cannot_report(db: Any, client: Client, make_report: Any) -> None:
    _, raw = ApiKey.issue(ApiKeyScope.SERVICE, service="billing")
    response = post(client, make_report(), raw)
    assert response.status_code == 403


@pytest.mark.django_db
def test_validate_checks_without_storing(client: Client, make_report: Any) -> None:
    response = client.post(
        "/api/metrics/validate", json.dumps({"reports": [make_report()]}), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == {"valid": True, "reports": 1}
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
def test_validate_names_the_bad_field(client: Client, make_report: Any) -> None:
    report = make_report()
    report["swap"]["percent"] = 200
    response = client.post("/api/metrics/validate", json.dumps(report), content_type="application/json")
    assert response.status_code == 422
    assert field_locs(response) == [["body", "swap", "percent"]]


@pytest.mark.django_db
def test_later_reports_keep_the_first_seen_time(client: Client, host: Host, agent_key: str, make_report: Any) -> None:
    post(client, make_report(seconds_ago=20), agent_key)
    host.refresh_from_db()
    first_seen = host.first_seen
    post(client, make_report(seconds_ago=10), agent_key)
    host.refresh_from_db()
    assert host.first_seen == first_seen
    assert host.last_seen is not None and host.last_seen > first_seen
