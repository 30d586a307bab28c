"""The overall sentiment: the rule as a table, the API shape, and answering from the cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from hosts.models import Host
from services import sentiment, service_cache
from services.models import DomainEvent, EventType, ServiceEvent, ServiceHealth

NO_HOSTS = {"online": 0, "stale": 0, "offline": 0}


def hosts(online: int = 0, stale: int = 0, offline: int = 0) -> dict[str, int]:
    return {"online": online, "stale": stale, "offline": offline}


RULE_TABLE: list[tuple[list[str], dict[str, int], str]] = [
    # services,                          hosts,                        overall
    ([], NO_HOSTS, "healthy"),
    (["healthy"], NO_HOSTS, "healthy"),
    (["healthy", "healthy"], hosts(online=3), "healthy"),
    (["unknown"], hosts(online=3), "degraded"),
    (["healthy"], hosts(online=2, stale=1), "degraded"),
    (["healthy"], hosts(online=2, offline=1), "degraded"),
    ([], hosts(stale=3), "degraded"),
    (["healthy", "unhealthy"], hosts(online=3), "unhealthy"),
    (["unhealthy", "unknown"], hosts(stale=1), "unhealthy"),
    (["healthy"], hosts(offline=2), "unhealthy"),
    ([], hosts(offline=1), "unhealthy"),
]


@pytest.mark.parametrize(("services", "host_counts", "expected"), RULE_TABLE)
def test_rule_table(services: list[str], host_counts: dict[str, int], expected: str) -> None:
    assert sentiment.overall_status(services, host_counts) == expected


def health(status: str, name: str = "seo", seconds_ago: float = 0, **extra: Any) -> DomainEvent:
    kind = EventType.SERVICE_HEALTHY if status == "healthy" else EventType.SERVICE_UNHEALTHY
    at = timezone.now() - timedelta(seconds=seconds_ago)
    return DomainEvent(type=kind, service_name=name, occurred_at=at, **extra)


def record(*events: DomainEvent) -> None:
    ServiceEvent.objects.record(list(events), via="http")


@pytest.mark.django_db
def test_endpoint_has_the_designs_shape(client: Client, read_key: str, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        record(
            health("healthy", "image-generator", metrics={"queueDepth": 42, "activeJobs": 3}),
            health("unhealthy", "seo", error_message="timeout talking to postgres"),
        )
    body = client.get("/api/hosts/sentiment/overall", HTTP_X_API_KEY=read_key).json()
    assert body["status"] == "unhealthy"
    assert body["hosts"] == NO_HOSTS
    generator, seo = body["services"]
    assert generator["name"] == "image-generator" and generator["status"] == "healthy"
    assert generator["metrics"] == {"queueDepth": 42, "activeJobs": 3}
    assert "error" not in generator
    assert datetime.fromisoformat(generator["lastCheck"]) <= datetime.now(UTC)
    assert (seo["status"], seo["error"]) == ("unhealthy", "timeout talking to postgres")
    assert set(seo) == {"name", "status", "lastCheck", "error"}


@pytest.mark.django_db
def test_endpoint_counts_hosts_by_status(client: Client, read_key: str, host: Host) -> None:
    Host.objects.create(name="db-1", last_seen=timezone.now())
    Host.objects.create(name="off", enabled=False)
    body = client.get("/api/hosts/sentiment/overall", HTTP_X_API_KEY=read_key).json()
    assert (body["status"], body["hosts"]) == ("degraded", hosts(online=1, offline=1))


@pytest.mark.django_db
def test_a_warm_answer_reads_no_table(django_assert_num_queries: Any) -> None:
    Host.objects.create(name="web-1", last_seen=timezone.now())
    record(health("healthy"))
    sentiment.overall()  # warms the cache from the database
    with django_assert_num_queries(0):
        answer = sentiment.overall()
    assert answer["status"] == "healthy"
    assert answer["hosts"] == hosts(online=1)


@pytest.mark.django_db
def test_changes_are_kept_in_the_cache(django_capture_on_commit_callbacks: Any) -> None:
    record(health("healthy", seconds_ago=30))
    assert sentiment.overall()["status"] == "healthy"
    with django_capture_on_commit_callbacks(execute=True):
        record(health("unhealthy", error_message="boom"))
    answer = sentiment.overall()
    assert (answer["status"], answer["services"][0]["error"]) == ("unhealthy", "boom")


@pytest.mark.django_db
def test_a_new_service_joins_the_cached_list(django_capture_on_commit_callbacks: Any) -> None:
    record(health("healthy", "seo"))
    sentiment.overall()
    with django_capture_on_commit_callbacks(execute=True):
        record(health("healthy", "billing"))
    assert [s["name"] for s in sentiment.overall()["services"]] == ["billing", "seo"]


@pytest.mark.django_db
def test_a_late_cache_write_does_not_replace_a_newer_state() -> None:
    record(health("healthy", seconds_ago=30))
    older = ServiceHealth.objects.get().cache_entry()
    record(health("unhealthy"))
    service_cache.remember_service(ServiceHealth.objects.get().cache_entry())
    service_cache.remember_service(older)
    assert sentiment.overall()["services"][0]["status"] == "unhealthy"


@pytest.mark.django_db
def test_a_lost_cache_is_rebuilt_from_the_database() -> None:
    record(health("unhealthy"))
    sentiment.overall()
    cache.clear()
    assert sentiment.overall()["status"] == "unhealthy"


@pytest.mark.django_db
def test_host_reports_show_within_a_report_interval() -> None:
    host = Host.objects.create(name="web-1")
    assert sentiment.cached_host_counts() == hosts(offline=1)
    Host.objects.filter(pk=host.pk).update(last_seen=timezone.now())  # as ingest does: no signal
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.REPORT_INTERVAL + 1)):
        assert sentiment.cached_host_counts() == hosts(online=1)


@pytest.mark.django_db
def test_hosts_go_stale_in_the_cached_answer_as_time_passes() -> None:
    Host.objects.create(name="web-1", last_seen=timezone.now())
    assert sentiment.cached_host_counts() == hosts(online=1)
    with time_machine.travel(timezone.now() + timedelta(seconds=45)):
        assert sentiment.cached_host_counts() == hosts(stale=1)


@pytest.mark.django_db
def test_disabling_or_deleting_a_host_drops_it_at_once(django_capture_on_commit_callbacks: Any) -> None:
    kept = Host.objects.create(name="web-1", last_seen=timezone.now())
    gone = Host.objects.create(name="web-2")
    assert sentiment.cached_host_counts() == hosts(online=1, offline=1)
    with django_capture_on_commit_callbacks(execute=True):
        gone.enabled = False
        gone.save()
    assert sentiment.cached_host_counts() == hosts(online=1)
    with django_capture_on_commit_callbacks(execute=True):
        kept.delete()
    assert sentiment.cached_host_counts() == NO_HOSTS
