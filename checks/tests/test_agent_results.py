"""Check results in an agent's report: stored once, through the same retries and alerts as the hub's runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from alerts.models import Alert
from checks.models import Check, CheckResult
from hosts.models import Host
from metrics.models import MetricSample

URL = "/api/metrics/report"
pytestmark = pytest.mark.django_db


def post(client: Client, body: Any, key: str) -> Any:
    return client.post(URL, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def result(check: Check, seconds_ago: float = 0, state: str = "ok", **fields: Any) -> dict[str, Any]:
    ran_at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return {"check_id": check.pk, "ran_at": ran_at.isoformat(), "state": state, "latency_ms": 1.5, **fields}


@pytest.fixture
def mine(host: Host) -> Check:
    return Check.objects.create(name="db-port", kind="tcp", target="127.0.0.1:5432", host=host, retries=1)


def test_results_are_stored_with_their_latency(client: Client, agent_key: str, make_report: Any, mine: Check) -> None:
    response = post(client, make_report(checks=[result(mine, message="connected")]), agent_key)
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "checks_accepted": 1,
        "checks_duplicates": 0,
        "checks_ignored": 0,
    }
    stored = CheckResult.objects.get()
    assert (stored.service_check, stored.host.name, stored.state, stored.latency_ms, stored.message) == (
        mine,
        "web-1",
        "ok",
        1.5,
        "connected",
    )
    mine.refresh_from_db()
    assert (mine.state, mine.last_latency_ms) == ("ok", 1.5)


def test_a_report_without_checks_is_answered_as_before(client: Client, agent_key: str, make_report: Any) -> None:
    response = post(client, make_report(), agent_key)
    assert response.json() == {"accepted": 1, "duplicates": 0}


def test_a_resent_report_stores_its_results_once(client: Client, agent_key: str, make_report: Any, mine: Check) -> None:
    report = make_report(checks=[result(mine, 20, "critical"), result(mine, 10, "critical")])
    post(client, report, agent_key)
    again = post(client, report, agent_key)
    assert again.status_code == 202
    assert (again.json()["checks_accepted"], again.json()["checks_duplicates"]) == (0, 2)
    assert CheckResult.objects.count() == 2
    mine.refresh_from_db()
    assert mine.consecutive_failures == 2  # not 4: the resend counted nothing


def test_the_retries_apply_before_the_state_changes(
    client: Client, agent_key: str, make_report: Any, mine: Check
) -> None:
    post(client, make_report(seconds_ago=30, checks=[result(mine, 30)]), agent_key)
    post(client, make_report(seconds_ago=20, checks=[result(mine, 20, "critical", message="refused")]), agent_key)
    mine.refresh_from_db()
    assert (mine.state, mine.consecutive_failures) == ("ok", 1)  # one failure is within retries=1
    assert not Alert.objects.filter(service="db-port").exists()
    post(client, make_report(seconds_ago=10, checks=[result(mine, 10, "critical", message="refused")]), agent_key)
    mine.refresh_from_db()
    assert mine.state == "critical"
    alert = Alert.objects.get(service="db-port")
    assert "refused" in alert.message


def test_results_in_a_batch_count_in_the_order_they_ran(
    client: Client, agent_key: str, make_report: Any, mine: Check
) -> None:
    # A spooled backlog: the newest report first in the body must not make an old failure the last word.
    newer = make_report(seconds_ago=10, checks=[result(mine, 10, "ok")])
    older = make_report(seconds_ago=40, checks=[result(mine, 40, "critical"), result(mine, 30, "critical")])
    response = client.post(
        URL,
        data=json.dumps({"reports": [newer, older]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {agent_key}",
    )
    assert response.status_code == 202
    mine.refresh_from_db()
    assert (mine.state, mine.consecutive_failures) == ("ok", 0)
    assert mine.flips.count() == 2  # unknown -> critical -> ok, as it happened


def test_a_result_for_another_hosts_check_is_ignored_and_counted(
    client: Client, agent_key: str, make_report: Any, mine: Check
) -> None:
    other = Host.objects.create(name="db-1")
    theirs = Check.objects.create(name="theirs", kind="tcp", target="127.0.0.1:1", host=other)
    hub = Check.objects.create(name="hub-run", kind="tcp", target="127.0.0.1:2")
    disabled = Check.objects.create(name="off", kind="tcp", target="127.0.0.1:3", host=mine.host, enabled=False)
    gone = {**result(mine), "check_id": 999_999}
    report = make_report(checks=[result(mine), result(theirs), result(hub), result(disabled), gone])
    response = post(client, report, agent_key)
    assert response.status_code == 202
    assert (response.json()["checks_accepted"], response.json()["checks_ignored"]) == (1, 4)
    assert list(CheckResult.objects.values_list("service_check__name", flat=True)) == ["db-port"]


def test_a_tag_check_takes_results_from_each_tagged_agent(
    client: Client, agent_key: str, make_report: Any, host: Host
) -> None:
    tagged = Check.objects.create(name="by-tag", kind="tcp", target="127.0.0.1:5432", host_tag="prod")
    response = post(client, make_report(checks=[result(tagged)]), agent_key)
    assert response.json()["checks_accepted"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", "down"),
        ("state", None),
        ("ran_at", "yesterday"),
        ("ran_at", "2024-05-01T12:00:00"),  # no time zone
        ("latency_ms", -1),
        ("latency_ms", "12"),
        ("check_id", "7"),
        ("check_id", 0),
        ("message", "x" * 501),
    ],
)
def test_a_bad_result_is_a_422_naming_the_field_and_nothing_is_stored(
    client: Client, agent_key: str, make_report: Any, mine: Check, field: str, value: Any
) -> None:
    response = post(client, make_report(checks=[{**result(mine), field: value}]), agent_key)
    assert response.status_code == 422
    assert ["body", "checks", 0, field] in [error["loc"] for error in response.json()["detail"]]
    assert not MetricSample.objects.exists()
    assert not CheckResult.objects.exists()


def test_a_result_from_the_future_is_refused(client: Client, agent_key: str, make_report: Any, mine: Check) -> None:
    response = post(client, make_report(checks=[result(mine, seconds_ago=-3600)]), agent_key)
    assert response.status_code == 422
    assert "future" in response.json()["detail"][0]["msg"]


def test_a_message_of_500_characters_is_kept_whole(
    client: Client, agent_key: str, make_report: Any, mine: Check
) -> None:
    post(client, make_report(checks=[result(mine, message="é" * 500)]), agent_key)
    assert CheckResult.objects.get().message == "é" * 500


def test_a_late_result_is_history_and_does_not_move_the_state(
    client: Client, agent_key: str, make_report: Any, mine: Check
) -> None:
    post(client, make_report(seconds_ago=5, checks=[result(mine, 5, "ok")]), agent_key)
    post(
        client,
        make_report(seconds_ago=60, checks=[result(mine, 60, "critical"), result(mine, 50, "critical")]),
        agent_key,
    )
    mine.refresh_from_db()
    assert (mine.state, mine.consecutive_failures) == ("ok", 0)
    assert CheckResult.objects.count() == 3
