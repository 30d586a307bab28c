"""The write path itself (metrics/ingest.py): what one submission stores, caches and
announces, in which order, and that one submission's failure is its own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from hosts.models import ApiKey, ApiKeyScope, Host
from metrics import api, ingest, latest
from metrics.models import HostGone, MetricSample
from metrics.schemas import ReportIn
from metrics.signals import ask_with_each_report, report_facts, samples_stored
from statusdash.tests.skips import postgres_only
from statusdash.tests.support import sample_report

NOW = datetime.now(UTC).replace(microsecond=0)


def validated(at: datetime, **system: str) -> dict[str, Any]:
    report = sample_report(at, seed=int(at.timestamp()))
    report["system"].update(system)
    return ReportIn.model_validate(report).model_dump()


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("order", ["oldest first", "newest first"])
def test_a_batch_describes_the_host_by_its_newest_report(
    host: Host, order: str, django_capture_on_commit_callbacks: Any
) -> None:
    reports = [validated(NOW - timedelta(minutes=5), kernel="6.1-old"), validated(NOW, kernel="6.8-new")]
    if order == "newest first":
        reports.reverse()
    with django_capture_on_commit_callbacks(execute=True):
        stored, duplicates = ingest.store_reports(host, reports)
    assert (len(stored), duplicates) == (2, 0)
    host.refresh_from_db()
    assert host.kernel == "6.8-new"
    # The latest-metrics cache holds the newest sample too, whichever came first in the body.
    assert latest.latest_for([host.pk])[host.pk]["collected_at"] == NOW.isoformat()


@pytest.mark.django_db
def test_duplicates_inside_one_batch_and_across_batches_are_counted(host: Host) -> None:
    first, second = validated(NOW - timedelta(seconds=20)), validated(NOW - timedelta(seconds=10))
    stored, duplicates = ingest.store_reports(host, [first, first, second])
    assert (len(stored), duplicates) == (2, 1)
    stored, duplicates = ingest.store_reports(host, [second, validated(NOW)])
    assert (len(stored), duplicates) == (1, 1)
    assert MetricSample.objects.filter(host=host).count() == 3


@pytest.mark.django_db
def test_a_batch_of_resent_reports_stores_nothing_and_counts_each(host: Host) -> None:
    reports = [validated(NOW - timedelta(seconds=20)), validated(NOW - timedelta(seconds=10))]
    ingest.store_reports(host, reports)
    stored, duplicates = ingest.store_reports(host, reports)
    assert (stored, duplicates) == ([], 2)
    assert MetricSample.objects.filter(host=host).count() == 2


@pytest.fixture
def host_name_fact() -> Any:
    ask_with_each_report("test.host_name", '"hosts_host"."name"')
    yield "test.host_name"
    report_facts.pop("test.host_name")


@pytest.mark.django_db
def test_a_fact_an_app_asked_for_is_read_with_the_report_and_handed_to_receivers(
    host: Host, host_name_fact: str
) -> None:
    heard: list[dict[str, Any]] = []

    def listen(facts: dict[str, Any], **_: Any) -> None:
        heard.append(facts)

    batch = MetricSample.store_batch(host, [validated(NOW - timedelta(seconds=10))])
    assert batch.facts[host_name_fact] == "web-1"
    samples_stored.connect(listen, dispatch_uid="test-listen")
    try:
        ingest.store_reports(host, [validated(NOW)])
    finally:
        samples_stored.disconnect(dispatch_uid="test-listen")
    assert [facts[host_name_fact] for facts in heard] == ["web-1"]


@pytest.mark.django_db
def test_a_host_deleted_after_it_was_identified_stores_nothing(
    host: Host, django_capture_on_commit_callbacks: Any
) -> None:
    stale = Host.objects.get(pk=host.pk)  # what the identity cache holds
    Host.objects.filter(pk=host.pk).delete()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(HostGone, match="'web-1'"):
        ingest.store_reports(stale, [validated(NOW)])
    assert callbacks == []  # nothing cached, nothing pushed
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db
def test_a_report_for_a_host_deleted_on_its_way_is_a_410_naming_the_host(
    client: Client, host: Host, agent_key: str, make_report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_parse = api.parse_reports

    def deleted_meanwhile(request: Any) -> Any:
        # The request was authenticated a moment ago; the host is deleted before it is stored.
        Host.objects.filter(pk=host.pk).delete()
        return real_parse(request)

    monkeypatch.setattr(api, "parse_reports", deleted_meanwhile)
    response = client.post(
        "/api/metrics/report",
        data=make_report(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {agent_key}",
    )
    assert response.status_code == 410
    assert "'web-1' no longer exists" in response.json()["detail"]
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_failing_submission_does_not_fail_its_neighbours() -> None:
    """Ten hosts reporting at once while one of them is deleted: the others are all stored."""
    hosts = [Host.objects.create(name=f"node-{i}") for i in range(10)]
    gone = Host.objects.get(name="node-3")
    Host.objects.filter(pk=gone.pk).delete()
    start = threading.Barrier(len(hosts))
    outcomes: dict[str, str] = {}

    def report(host: Host) -> None:
        try:
            start.wait()
            for second in range(5):
                ingest.store_reports(host, [validated(NOW - timedelta(seconds=second))])
            outcomes[host.name] = "stored"
        except HostGone:
            outcomes[host.name] = "gone"
        except Exception as error:  # anything else is the failure this test looks for
            outcomes[host.name] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {host.name: ("gone" if host.name == "node-3" else "stored") for host in hosts}
    assert MetricSample.objects.count() == 9 * 5


@pytest.mark.django_db
def test_a_new_key_for_a_recreated_host_reports_again(client: Client, make_report: Any) -> None:
    """After the 410, the way back: the host enrolled (here: a new key) again."""
    host = Host.objects.create(name="web-2")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    host.delete()
    again = Host.objects.create(name="web-2")
    _, new_key = ApiKey.issue(ApiKeyScope.AGENT, host=again)
    auth = {"content_type": "application/json"}
    old = client.post("/api/metrics/report", data=make_report(), HTTP_AUTHORIZATION=f"Bearer {key}", **auth)
    assert old.status_code == 401
    new = client.post("/api/metrics/report", data=make_report(), HTTP_AUTHORIZATION=f"Bearer {new_key}", **auth)
    assert new.status_code == 202


def synchronous_commit_while_storing(host: Host) -> str:
    """PostgreSQL's synchronous_commit as the report's own transaction sees it."""
    seen: list[str] = []

    def look(**_: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])

    samples_stored.connect(look, dispatch_uid="test-look")
    try:
        ingest.store_reports(host, [validated(NOW)])
    finally:
        samples_stored.disconnect(dispatch_uid="test-look")
    return seen[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_on_postgres_a_report_commits_without_waiting_for_the_disk_and_nothing_else_does(host: Host) -> None:
    assert synchronous_commit_while_storing(host) == "off"
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on", "the setting outlived the report's transaction"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_ingest_synchronous_commit_makes_a_report_wait_for_the_disk(host: Host, settings: Any) -> None:
    settings.INGEST_SYNCHRONOUS_COMMIT = True
    assert synchronous_commit_while_storing(host) == "on"


@postgres_only
@pytest.mark.django_db
def test_on_postgres_a_reports_statement_is_prepared_on_its_connection(host: Host) -> None:
    """After a few reports PostgreSQL plans it no more (statusdash/lib/prepared.py)."""
    for second in range(10):
        ingest.store_reports(host, [validated(NOW - timedelta(seconds=second))])
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    assert [s for s in statements if s.startswith("WITH reporting_host AS (UPDATE")]
