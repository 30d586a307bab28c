"""Request bodies: gzip only with credentials, inflated no larger than a raw body, and
hostile bodies that cannot make the hub hold memory."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client

from hosts.models import ApiKey, ApiKeyScope, Host

UNAUTHENTICATED_BODY_ENDPOINTS = ["/api/metrics/validate", "/api/enroll", "/api/auth/token"]


def post_as_agent(client: Client, report: dict[str, Any]) -> Any:
    """POST a report with a new agent key of host web-1."""
    host = Host.objects.create(name="web-1")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    return client.post(
        "/api/metrics/report",
        data=json.dumps(report),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def post_gzip(client: Client, path: str, payload: bytes, **headers: str) -> Any:
    return client.post(
        path, data=gzip.compress(payload), content_type="application/json", HTTP_CONTENT_ENCODING="gzip", **headers
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", UNAUTHENTICATED_BODY_ENDPOINTS)
def test_gzip_without_credentials_is_a_415(client: Client, path: str) -> None:
    response = post_gzip(client, path, b'{"username": "admin", "password": "x"}')
    assert response.status_code == 415
    assert "gzip" in response.json()["detail"]


@pytest.mark.django_db
def test_gzip_with_credentials_is_accepted(client: Client, make_report: Any) -> None:
    host = Host.objects.create(name="web-1")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    response = post_gzip(
        client, "/api/metrics/report", json.dumps(make_report()).encode(), HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 202, response.content


@pytest.mark.django_db
def test_gzip_inflates_to_no_more_than_the_body_limit(client: Client, settings: Any) -> None:
    host = Host.objects.create(name="web-1")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    limit = settings.MAX_REPORT_BYTES
    # Valid JSON (`[   ...   ]`) of exactly the limit is parsed; one byte more is refused.
    at_limit = post_gzip(client, "/api/metrics/report", b"[" + b" " * (limit - 2) + b"]", **auth)
    assert at_limit.status_code == 422, at_limit.content  # read, and refused for its shape
    over = post_gzip(client, "/api/metrics/report", b"[" + b" " * (limit - 1) + b"]", **auth)
    assert over.status_code == 413
    assert f"larger than {limit} bytes" in over.json()["detail"]


@pytest.mark.django_db
def test_unsupported_encoding_is_a_415(client: Client) -> None:
    response = client.post(
        "/api/metrics/validate", data=b"{}", content_type="application/json", HTTP_CONTENT_ENCODING="br"
    )
    assert response.status_code == 415
    assert "br" in response.json()["detail"]


@pytest.mark.django_db
def test_malformed_json_on_a_schema_endpoint_says_why(client: Client) -> None:
    response = client.post("/api/auth/token", data=b'{"username": ', content_type="application/json")
    assert response.status_code == 400
    assert "malformed JSON body" in response.json()["detail"]


@pytest.mark.django_db
def test_a_batch_is_counted_before_it_is_validated(client: Client) -> None:
    body = b'{"reports":[' + b",".join([b"{}"] * 501) + b"]}"
    response = client.post("/api/metrics/validate", data=body, content_type="application/json")
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert errors == [
        {
            "loc": ["body", "reports"],
            "msg": "a batch holds at most 500 reports, this one has 501",
            "type": "too_long",
        }
    ]


@pytest.mark.django_db
def test_validation_errors_are_listed_up_to_a_bound(client: Client) -> None:
    body = b'{"reports":[' + b",".join([b"{}"] * 500) + b"]}"
    response = client.post("/api/metrics/validate", data=body, content_type="application/json")
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert len(errors) == 51
    assert errors[0]["loc"][:3] == ["body", "reports", 0]
    assert errors[-1]["type"] == "too_many_errors"
    hidden = int(errors[-1]["msg"].split()[0])
    assert hidden > 500  # every report misses several fields


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def hostile_bodies() -> list[tuple[str, bytes, dict[str, str]]]:
    """The bodies an outside review used: small gzip that inflates to megabytes of empty
    objects, and a raw body of a quarter of a million of them."""
    empties = b'{"reports":[' + b",".join([b"{}"] * 5_000_000) + b"]}"  # about 15 MB inflated
    bomb = gzip.compress(empties, compresslevel=9)
    raw = b'{"reports":[' + b",".join([b"{}"] * 250_000) + b"]}"  # under 1 MiB: passes the body limit
    gzipped = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    plain = {"Content-Type": "application/json"}
    return [
        *((path, bomb, gzipped) for path in UNAUTHENTICATED_BODY_ENDPOINTS),
        ("/api/metrics/validate", raw, plain),
    ]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_hostile_bodies_do_not_grow_the_hub(tmp_path: Path) -> None:
    from conftest import hub_env
    from statusdash.tests.support import daphne_server

    bodies = hostile_bodies()
    assert max(len(body) for _, body, headers in bodies if "Content-Encoding" in headers) < 64 * 1024
    with daphne_server(env=hub_env(tmp_path)) as base:
        session = requests.Session()
        # Warm up every code path first, so imports and caches are not counted as growth.
        for path in UNAUTHENTICATED_BODY_ENDPOINTS:
            session.post(f"{base}{path}", data=b"{}", headers={"Content-Type": "application/json"}, timeout=30)
        before = rss_mib(base.pid)
        statuses = []
        for _ in range(3):
            for path, body, headers in bodies:
                statuses.append(session.post(f"{base}{path}", data=body, headers=headers, timeout=60).status_code)
        after = rss_mib(base.pid)
    print(f"hub RSS around {len(statuses)} hostile requests: {before:.0f} -> {after:.0f} MiB")
    assert all(400 <= status < 500 for status in statuses), statuses
    assert after - before < 50, f"the hub grew from {before:.0f} MiB to {after:.0f} MiB"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("place", "loc"),
    [
        (lambda r: r["system"].update(kernel="6.1\u0000evil"), ["body", "system", "kernel"]),
        (lambda r: r["disks"][0].update(mount="/data\u0000"), ["body", "disks", 0, "mount"]),
        (lambda r: r["system"].update({"ext\u0000ra": "x"}), ["body", "system", "ext\u0000ra"]),
    ],
)
def test_nul_in_a_report_is_a_422_naming_the_field(
    client: Client, make_report: Any, place: Any, loc: list[Any]
) -> None:
    from metrics.models import MetricSample

    report = make_report()
    place(report)
    response = post_as_agent(client, report)
    assert response.status_code == 422, response.content
    assert response.json()["detail"] == [
        {"loc": loc, "msg": "NUL characters (\\u0000) are not allowed", "type": "value_error"}
    ]
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
def test_nul_on_a_schema_endpoint_is_a_422_too(client: Client) -> None:
    body = json.dumps({"username": "admin\u0000", "password": "x"})
    response = client.post("/api/auth/token", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "username"]


@pytest.mark.django_db
def test_an_escaped_backslash_before_u0000_is_plain_text(client: Client, make_report: Any) -> None:
    report = make_report()
    report["system"]["kernel"] = "C:\\u0000"  # a backslash, then the text u0000: no NUL
    response = post_as_agent(client, report)
    assert response.status_code == 202, response.content
    assert Host.objects.get(name="web-1").kernel == "C:\\u0000"
