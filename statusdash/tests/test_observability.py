"""GET /metrics: who may scrape it, what it counts across processes, and that Prometheus accepts it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
import requests
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from accounts.roles import VIEWER
from dashboard.consumers import DashboardConsumer
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.lib import observability
from statusdash.lib.env import env_networks
from statusdash.tests.skips import require_tool
from statusdash.tests.support import BASE_DIR, user_with_role

REPORT = "/api/metrics/report"


@pytest.fixture(autouse=True)
def metrics_dir(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private multiprocess directory, so counts from other test processes don't leak in.

    A new process identifier makes prometheus_client reopen every value's file, the same
    way it does after a fork; undoing the patch switches back to the shared files.
    """
    directory = tmp_path / "prometheus"
    directory.mkdir()
    settings.PROMETHEUS_MULTIPROC_DIR = directory
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    monkeypatch.setitem(observability._identifiers, os.getpid(), f"test-{uuid.uuid4().hex}")
    return directory


def scrape(client: Client, key: str, **headers: str) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}", **headers)
    assert response.status_code == 200, response.content
    return response.content.decode()


def value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def post_report(client: Client, key: str, body: Any) -> int:
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(REPORT, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    return response.status_code


# --- who may scrape


@pytest.mark.django_db
def test_scrape_without_a_key_is_refused(client: Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert "read API key" in response.json()["detail"]


@pytest.mark.django_db
def test_scrape_with_an_unknown_key_is_refused(client: Client) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer sd_not-a-key")
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown API key"}


@pytest.mark.django_db
def test_scrape_with_an_agent_key_is_forbidden(client: Client, agent_key: str) -> None:
    response = client.get("/metrics", HTTP_X_API_KEY=agent_key)
    assert response.status_code == 403
    assert "read key" in response.json()["detail"]


@pytest.mark.django_db
def test_scrape_with_a_revoked_key_is_forbidden(client: Client, read_key: str) -> None:
    ApiKey.objects.find(read_key).revoke()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {read_key}")
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


@pytest.mark.django_db
def test_scrape_with_a_read_key_is_served_in_the_prometheus_format(client: Client, read_key: str) -> None:
    response = client.get("/metrics", HTTP_X_API_KEY=read_key)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_scrape_from_an_allowed_address_needs_no_key(client: Client, settings: Any) -> None:
    settings.METRICS_ALLOWED_IPS = [ip_network("10.9.0.0/24")]
    assert client.get("/metrics", REMOTE_ADDR="10.9.0.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.9.1.7").status_code == 401


@pytest.mark.django_db
def test_forwarded_address_counts_only_from_a_trusted_proxy(client: Client, settings: Any) -> None:
    settings.METRICS_ALLOWED_IPS = [ip_network("10.9.0.7")]
    settings.TRUSTED_PROXIES = ["172.18.0.0/16"]
    forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 10.9.0.7"}
    assert client.get("/metrics", REMOTE_ADDR="172.18.0.5", **forwarded).status_code == 200
    # The same header from anyone else is a forgery and is ignored.
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.1", **forwarded).status_code == 401


@pytest.mark.django_db
def test_scrape_only_answers_get(client: Client, read_key: str) -> None:
    assert client.post("/metrics", HTTP_X_API_KEY=read_key).status_code == 405


def test_allow_list_with_a_bad_entry_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_ALLOWED_IPS", "10.0.0.1, prometheus.local")
    with pytest.raises(ImproperlyConfigured, match=r"METRICS_ALLOWED_IPS.*'prometheus.local'"):
        env_networks("METRICS_ALLOWED_IPS")


def test_allow_list_accepts_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_ALLOWED_IPS", "10.0.0.1, 10.9.0.0/24,::1")
    assert [str(n) for n in env_networks("METRICS_ALLOWED_IPS")] == ["10.0.0.1/32", "10.9.0.0/24", "::1/128"]


# --- what it counts


@pytest.mark.django_db
def test_accepted_and_duplicate_reports_are_counted(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    report = make_report()
    assert post_report(client, agent_key, report) == 202
    assert post_report(client, agent_key, {"reports": [report, make_report(seconds_ago=5)]}) == 202
    text = scrape(client, read_key)
    assert value(text, "statusdash_ingest_reports_total", result="accepted") == 2
    assert value(text, "statusdash_ingest_reports_total", result="duplicate") == 1
    assert value(text, "statusdash_ingest_request_duration_seconds_count") == 2
    assert value(text, "statusdash_ingest_request_duration_seconds_sum") > 0


@pytest.mark.django_db
def test_rejected_reports_are_counted_by_reason(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    assert post_report(client, "sd_wrong", make_report()) == 401
    assert post_report(client, read_key, make_report()) == 403
    assert post_report(client, agent_key, make_report(cpu={"percent": 250})) == 422
    assert post_report(client, agent_key, "{not json") == 400
    text = scrape(client, read_key)
    for reason in ("unauthenticated", "forbidden", "invalid", "malformed"):
        assert value(text, "statusdash_ingest_rejected_requests_total", reason=reason) == 1, reason
    assert value(text, "statusdash_ingest_reports_total", result="accepted") in (None, 0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_oversized_reports_refused_before_django_are_counted(live_hub: str, read_key: str) -> None:
    """The body limit answers 413 in the ASGI layer, in front of Django: a real Daphne."""
    response = requests.post(f"{live_hub}{REPORT}", data=b"x" * (1024 * 1024 + 1), timeout=10)
    assert response.status_code == 413
    text = requests.get(f"{live_hub}/metrics", headers={"X-API-Key": read_key}, timeout=10).text
    assert value(text, "statusdash_ingest_rejected_requests_total", reason="too_large") == 1


@pytest.mark.django_db
def test_refusals_on_other_endpoints_are_not_ingest_rejections(client: Client, read_key: str) -> None:
    assert client.get("/api/hosts").status_code == 401
    text = scrape(client, read_key)
    assert value(text, "statusdash_ingest_rejected_requests_total") is None


@pytest.mark.django_db
def test_each_host_exposes_its_latest_values(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    Host.objects.create(name="never-reported")
    report = make_report()
    post_report(client, agent_key, report)
    text = scrape(client, read_key)
    assert value(text, "statusdash_host_cpu_percent", host="web-1") == report["cpu"]["percent"]
    assert value(text, "statusdash_host_memory_total_bytes", host="web-1") == report["memory"]["total"]
    assert value(text, "statusdash_host_disk_percent", host="web-1") == 72.0
    assert value(text, "statusdash_host_load", host="web-1", period="15m") == 0.3
    assert value(text, "statusdash_host_status", host="web-1", status="online") == 1
    assert value(text, "statusdash_host_status", host="web-1", status="offline") == 0
    assert value(text, "statusdash_host_status", host="never-reported", status="offline") == 1
    assert value(text, "statusdash_host_cpu_percent", host="never-reported") is None


@pytest.mark.django_db
def test_host_values_come_from_the_cache_not_the_samples_table(
    client: Client,
    host: Host,
    agent_key: str,
    read_key: str,
    make_report: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # The reports' commits write the cache (on commit): run those callbacks as a commit would.
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("web-2", "web-3", "web-4"):
            other = Host.objects.create(name=name)
            _, key = ApiKey.issue(ApiKeyScope.AGENT, host=other)
            post_report(client, key, make_report())
        post_report(client, agent_key, make_report())
    with CaptureQueriesContext(connection) as queries:
        text = scrape(client, read_key)
    assert not [q["sql"] for q in queries.captured_queries if "metrics_metricsample" in q["sql"]]
    assert len([q for q in queries.captured_queries if 'FROM "hosts_host"' in q["sql"]]) == 1
    assert value(text, "statusdash_host_cpu_percent", host="web-4") is not None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_open_websockets_are_counted(client: Client, read_key: str) -> None:
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(user_with_role)("viewer", VIEWER)
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    opened = await database_sync_to_async(scrape)(client, read_key)
    await communicator.disconnect()
    closed = await database_sync_to_async(scrape)(client, read_key)
    assert value(opened, "statusdash_websocket_clients", consumer="DashboardConsumer") == 1
    assert value(closed, "statusdash_websocket_clients", consumer="DashboardConsumer") == 0


@pytest.mark.django_db
def test_sweep_durations_and_last_success_are_recorded(client: Client, read_key: str) -> None:
    @observability.timed_sweep("tests.ok")
    def sweep(n: int) -> int:
        return n * 2

    assert sweep(21) == 42
    text = scrape(client, read_key)
    assert value(text, "statusdash_sweep_duration_seconds_count", task="tests.ok") == 1
    assert value(text, "statusdash_sweep_last_success_timestamp_seconds", task="tests.ok") > 1.7e9
    assert value(text, "statusdash_sweep_failures_total", task="tests.ok") is None


@pytest.mark.django_db
def test_failed_sweep_is_counted_and_still_raises(client: Client, read_key: str) -> None:
    @observability.timed_sweep("tests.broken")
    def sweep() -> None:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        sweep()
    text = scrape(client, read_key)
    assert value(text, "statusdash_sweep_failures_total", task="tests.broken") == 1
    assert value(text, "statusdash_sweep_duration_seconds_count", task="tests.broken") == 1
    assert value(text, "statusdash_sweep_last_success_timestamp_seconds", task="tests.broken") is None


@pytest.mark.django_db
def test_counts_from_other_processes_are_summed(client: Client, read_key: str, metrics_dir: Path) -> None:
    """A Celery worker or a second Daphne writes its own files; any web process serves the sum."""
    child = "import django; django.setup()\nfrom statusdash.lib import observability\nobservability.record_ingest(5, 1, 0.02)\n"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "statusdash.settings", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    subprocess.run([sys.executable, "-c", child], cwd=BASE_DIR, env=env, check=True, timeout=60)
    observability.record_ingest(2, 0, 0.01)
    text = scrape(client, read_key)
    assert value(text, "statusdash_ingest_reports_total", result="accepted") == 7
    assert value(text, "statusdash_ingest_request_duration_seconds_count") == 2


def test_a_process_that_counted_nothing_leaves_no_files(metrics_dir: Path) -> None:
    """Every `manage.py` run that loads the URLs opens metric files; a clean exit removes them."""
    child = "import django; django.setup()\nfrom statusdash.lib import observability\n"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "statusdash.settings", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    subprocess.run([sys.executable, "-c", child], cwd=BASE_DIR, env=env, check=True, timeout=60)
    assert list(metrics_dir.iterdir()) == []


def metric_file(directory: Path, prefix: str, identifier: str, value: float) -> str:
    name = f"{prefix}_{identifier}.db"
    values = MmapedDict(str(directory / name))
    values.write_value(mmap_key("m", "m_total", [], [], "help"), value, 0.0)
    values.close()
    return name


def test_what_dead_processes_leave_and_no_longer_counts_is_pruned(metrics_dir: Path) -> None:
    dead = f"{observability._MACHINE}-999999-1"  # no such pid on this machine
    mine = observability.process_identifier()
    elsewhere = "other-container-999999-1"  # another machine's processes are not ours to judge
    open_sockets = metric_file(metrics_dir, "gauge_livesum", dead, 3)
    empty_counts = metric_file(metrics_dir, "histogram", dead, 0)
    kept = [
        metric_file(metrics_dir, "counter", dead, 5),  # part of the totals
        metric_file(metrics_dir, "gauge_livesum", mine, 1),
        metric_file(metrics_dir, "gauge_livesum", elsewhere, 1),
    ]
    assert observability.prune_dead_processes(str(metrics_dir)) == sorted([open_sockets, empty_counts])
    assert sorted(p.name for p in metrics_dir.iterdir()) == sorted(kept)


# --- request logs


@pytest.mark.django_db
def test_api_requests_are_logged_with_identity(
    client: Client, host: Host, agent_key: str, make_report: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="statusdash.request"):
        post_report(client, agent_key, make_report())
        client.get("/api/hosts")
        client.get("/health")
    lines = [r for r in caplog.records if r.name == "statusdash.request"]
    assert [(r.method, r.path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("POST", REPORT, 202),
        ("GET", "/api/hosts", 401),
    ]
    assert lines[0].identity == "host:web-1"  # type: ignore[attr-defined]
    assert lines[1].identity == "-"  # type: ignore[attr-defined]
    assert lines[0].ms >= 0  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_read_requests_log_the_key_prefix(client: Client, read_key: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="statusdash.request"):
        client.get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {read_key}")
    (line,) = [r for r in caplog.records if r.name == "statusdash.request"]
    assert line.identity == f"key:{ApiKey.objects.find(read_key).prefix}"  # type: ignore[attr-defined]
    assert read_key not in caplog.text


# --- Prometheus accepts it


@pytest.mark.django_db
def test_exposition_passes_promtool(
    client: Client, host: Host, agent_key: str, read_key: str, make_report: Any
) -> None:
    promtool = require_tool("promtool", "prometheus")
    post_report(client, agent_key, make_report())
    post_report(client, "sd_wrong", make_report())

    @observability.timed_sweep("tests.promtool")
    def sweep() -> None:
        return None

    sweep()
    text = scrape(client, read_key)
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert "statusdash_host_cpu_percent" in text and "statusdash_ingest_rejected_requests_total" in text
