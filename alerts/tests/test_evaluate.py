"""Threshold rules on ingest: levels, durations, hysteresis, scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import evaluate
from alerts.evaluate import evaluate_samples
from alerts.models import Alert, AlertRule, Breach
from hosts.models import Host
from metrics.ingest import ingest_reports
from metrics.models import MetricSample
from metrics.schemas import ReportIn
from statusdash.tests.support import sample_report

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ingest(host: Host, cpu: float = 10.0, memory: float = 10.0, disks: dict[str, float] | None = None) -> None:
    """Store a sample taken now and evaluate it, as the report endpoint does."""
    report = sample_report(timezone.now(), seed=1)
    report["cpu"]["percent"] = cpu
    report["memory"]["percent"] = memory
    for disk in report["disks"]:
        disk["percent"] = (disks or {}).get(disk["mount"], 40.0)
    evaluate_report(host, report)


def evaluate_report(host: Host, report: dict[str, Any]) -> None:
    report["collected_at"] = datetime.fromisoformat(report["collected_at"])
    # Not saved: evaluation reads only the sample, and the frozen clock would repeat its time.
    evaluate_samples(host, [MetricSample.from_report(host, report)])


def firing(rule: str) -> list[Alert]:
    return list(Alert.objects.firing().filter(rule=rule))


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_default_rules_come_from_the_threshold_settings() -> None:
    rules = {r.name: r for r in AlertRule.objects.all()}
    assert (rules["cpu"].warning_level, rules["memory"].warning_level, rules["disk"].warning_level) == (90, 85, 90)
    assert rules["disk"].critical_level == 95


@pytest.mark.django_db
def test_disk_over_the_level_fires_at_once_per_mount(host: Host, clock: Any) -> None:
    ingest(host, disks={"/data": 92.0})
    [alert] = firing("disk")
    assert (alert.subject, alert.severity, alert.last_value) == ("/data", "warning", 92.0)
    assert "/data at 92.0%" in alert.message


@pytest.mark.django_db
def test_disk_over_the_critical_level_escalates(host: Host, clock: Any) -> None:
    ingest(host, disks={"/data": 92.0})
    ingest(host, disks={"/data": 97.0})
    [alert] = firing("disk")
    assert alert.severity == "critical"
    assert alert.peak_value == 97.0


@pytest.mark.django_db
def test_severity_does_not_flap_back_while_firing(host: Host, clock: Any) -> None:
    for percent in (92.0, 96.0, 94.0, 96.0, 94.0):
        ingest(host, disks={"/data": percent})
    [alert] = firing("disk")
    assert alert.severity == "critical"
    assert list(alert.transitions.values_list("kind", flat=True).order_by("id")) == ["triggered", "severity"]


@pytest.mark.django_db
def test_cpu_fires_only_after_its_duration(host: Host, clock: Any) -> None:
    ingest(host, cpu=95.0)
    assert firing("cpu") == []
    assert Breach.objects.get().since == START
    clock.shift(timedelta(minutes=4, seconds=50))
    ingest(host, cpu=96.0)
    assert firing("cpu") == []
    clock.shift(timedelta(seconds=10))
    ingest(host, cpu=97.0)
    [alert] = firing("cpu")
    assert alert.started_at == START + timedelta(minutes=5)
    assert not Breach.objects.exists()


@pytest.mark.django_db
def test_a_dip_below_the_level_restarts_the_duration(host: Host, clock: Any) -> None:
    ingest(host, cpu=95.0)
    clock.shift(timedelta(minutes=3))
    ingest(host, cpu=50.0)
    clock.shift(timedelta(minutes=3))
    ingest(host, cpu=95.0)
    assert firing("cpu") == []
    assert Breach.objects.get().since == START + timedelta(minutes=6)


@pytest.mark.django_db
def test_hysteresis_keeps_firing_between_clear_and_warning(host: Host, clock: Any) -> None:
    ingest(host, disks={"/": 91.0})  # disk: warning 90, clear 88
    ingest(host, disks={"/": 89.0})
    ingest(host, disks={"/": 90.5})
    ingest(host, disks={"/": 88.5})
    assert len(firing("disk")) == 1
    assert Alert.objects.count() == 1  # no flapping: one alert, never resolved
    ingest(host, disks={"/": 87.9})
    assert firing("disk") == []
    assert Alert.objects.get().last_value == 87.9


@pytest.mark.django_db
def test_rule_scoped_to_a_tag_skips_other_hosts(host: Host, clock: Any) -> None:
    other = Host.objects.create(name="db-1", tags=["db"])
    AlertRule.objects.create(name="db-memory", metric="memory", warning_level=50, tag="db")
    ingest(host, memory=60.0)
    ingest(other, memory=60.0)
    assert [a.host for a in firing("db-memory")] == [other]


@pytest.mark.django_db
def test_rule_scoped_to_one_mount_ignores_the_others(host: Host, clock: Any) -> None:
    AlertRule.objects.filter(name="disk").update(enabled=False)
    AlertRule.objects.create(name="root-disk", metric="disk", warning_level=50, subject="/")
    ingest(host, disks={"/": 60.0, "/data": 60.0})
    assert [a.subject for a in firing("root-disk")] == ["/"]


@pytest.mark.django_db
def test_disabled_rules_are_not_evaluated(host: Host, clock: Any) -> None:
    AlertRule.objects.filter(name="disk").update(enabled=False)
    ingest(host, disks={"/": 99.0})
    assert firing("disk") == []


@pytest.mark.django_db
def test_a_replayed_old_report_does_not_fire(host: Host, clock: Any) -> None:
    report = sample_report(timezone.now() - timedelta(hours=2))
    report["disks"][0]["percent"] = 99.0
    evaluate_report(host, report)
    assert firing("disk") == []


@pytest.mark.django_db
def test_a_report_resolves_the_host_offline_alert(host: Host, clock: Any) -> None:
    Alert.objects.fire("host_offline", host=host, severity="critical")
    ingest(host)
    assert firing("host_offline") == []


@pytest.mark.django_db
def test_load_is_per_core(host: Host, clock: Any) -> None:
    host.cpu_count = 4
    host.save()
    AlertRule.objects.create(name="load", metric="load", warning_level=1.5)
    report = sample_report(timezone.now())
    report["cpu"]["load"] = [8.0, 8.0, 8.0]
    evaluate_report(host, report)
    [alert] = firing("load")
    assert alert.last_value == 2.0


@pytest.mark.django_db
def test_the_report_endpoint_evaluates_rules(client: Client, host: Host, agent_key: str, make_report: Any) -> None:
    body = make_report()
    body["disks"][0]["percent"] = 93.0
    response = client.post(
        "/api/metrics/report", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {agent_key}"
    )
    assert response.status_code == 202
    assert [a.subject for a in firing("disk")] == ["/"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("critical_level", {"warning_level": 90, "critical_level": 80}),
        ("clear_level", {"warning_level": 90, "clear_level": 95}),
        ("subject", {"warning_level": 90, "subject": "/"}),
    ],
)
def test_inconsistent_rules_are_refused_naming_the_field(field: str, values: dict[str, Any]) -> None:
    from django.core.exceptions import ValidationError

    rule = AlertRule(name="bad", metric="cpu", **values)
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert field in error.value.message_dict


@pytest.mark.django_db
def test_a_rule_saved_in_the_admin_applies_to_the_next_report(host: Host, clock: Any) -> None:
    ingest(host, memory=60.0)  # rules are now held in memory
    AlertRule.objects.create(name="memory-60", metric="memory", warning_level=55)
    ingest(host, memory=60.0)
    assert len(firing("memory-60")) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_report_to_a_real_hub_fires_the_rule(live_hub: str, make_report: Any) -> None:
    """Through Daphne: the request thread stores the report and evaluates the rules in one transaction."""
    import requests

    from hosts.models import ApiKey, ApiKeyScope

    host = Host.objects.create(name="web-9")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    body = make_report()
    body["disks"][0]["percent"] = 97.0
    response = requests.post(
        f"{live_hub}/api/metrics/report", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 202
    [alert] = firing("disk")
    assert (alert.host, alert.subject, alert.severity) == (host, "/", "critical")


@pytest.mark.django_db
def test_a_failing_alert_evaluation_does_not_lose_the_report(
    client: Client, host: Host, agent_key: str, make_report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("a rule that cannot be evaluated")

    monkeypatch.setattr(evaluate, "evaluate_samples", broken)
    body = make_report()
    body["disks"][0]["percent"] = 97.0  # crosses the disk rule, so the rules are evaluated
    response = client.post(
        "/api/metrics/report",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {agent_key}",
    )
    assert response.status_code == 202
    assert MetricSample.objects.filter(host=host).count() == 1


@pytest.mark.django_db
def test_levels_are_reached_at_the_level_itself(host: Host, clock: Any) -> None:
    ingest(host, disks={"/": 90.0})  # disk: warning 90, critical 95, "at or above"
    [alert] = firing("disk")
    assert alert.severity == "warning"
    ingest(host, disks={"/": 95.0})
    assert firing("disk")[0].severity == "critical"


@pytest.mark.django_db
def test_a_value_at_the_clear_level_keeps_the_alert_firing(host: Host, clock: Any) -> None:
    ingest(host, disks={"/": 91.0})  # disk: clear 88; it resolves only below it
    ingest(host, disks={"/": 88.0})
    assert len(firing("disk")) == 1
    ingest(host, disks={"/": 87.99})
    assert firing("disk") == []


@pytest.mark.django_db
def test_a_mount_as_long_as_a_report_may_carry_raises_its_alert(
    client: Client, host: Host, agent_key: str, make_report: Any
) -> None:
    """Subjects fit any mount a report may carry (PostgreSQL enforces column lengths)."""
    from metrics.schemas import MOUNT_MAX_LENGTH

    long_mount = "/" + "m" * (MOUNT_MAX_LENGTH - 1)
    body = make_report()
    body["memory"]["percent"] = 99.0
    body["disks"] = [
        {**body["disks"][0], "mount": "/", "percent": 40.0},
        {**body["disks"][0], "mount": long_mount, "percent": 99.0},
    ]
    response = client.post(
        "/api/metrics/report", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {agent_key}"
    )
    assert response.status_code == 202
    assert [a.subject for a in firing("disk")] == [long_mount]
    assert Breach.objects.filter(rule__name="memory").exists()  # memory waits its duration


@pytest.mark.django_db
def test_an_evaluation_error_is_logged_and_counted(
    client: Client,
    host: Host,
    agent_key: str,
    make_report: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from statusdash.lib.observability import ALERT_EVALUATION_FAILURES

    def broken(*args: Any) -> None:
        raise RuntimeError("a rule that cannot be evaluated")

    monkeypatch.setattr(evaluate, "evaluate_samples", broken)
    before = ALERT_EVALUATION_FAILURES._value.get()
    body = make_report()
    body["disks"][0]["percent"] = 97.0  # crosses the disk rule, so the rules are evaluated
    response = client.post(
        "/api/metrics/report", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {agent_key}"
    )
    assert response.status_code == 202  # the report is kept
    assert MetricSample.objects.filter(host=host).count() == 1
    assert ALERT_EVALUATION_FAILURES._value.get() == before + 1
    assert [r.getMessage() for r in caplog.records if r.name == "alerts.evaluate"] == ["alert evaluation failed"]


# Through the write path itself (metrics.ingest), where the report's statement tells the rules
# whether anything is open on the host, and a report that can change nothing reads no further.


def report_through_ingest(host: Host, at: datetime, cpu: float = 10.0, disk: float = 40.0) -> None:
    report = sample_report(at, seed=1)
    report["cpu"]["percent"] = cpu
    report["disks"][0]["percent"] = disk  # "/"
    ingest_reports(host, [ReportIn.model_validate(report).model_dump()])


@pytest.fixture
def rules_in_memory() -> None:
    evaluate.forget_rules()
    evaluate.enabled_rules()


def queries_of_one_report(host: Host, at: datetime, **values: float) -> list[str]:
    """The statements one report sent, but its own (the host's UPDATE, the samples' INSERT) and
    the savepoint its transaction is inside a test's."""
    with CaptureQueriesContext(connection) as queries:
        report_through_ingest(host, at, **values)
    sql = [query["sql"] for query in queries.captured_queries]
    own = [q for q in sql if q.startswith(('UPDATE "hosts_host"', 'INSERT INTO "metrics_metricsample"', "WITH"))]
    # PostgreSQL: the host's UPDATE and the samples' INSERT are one statement; SQLite: two.
    assert len(own) == (1 if connection.vendor == "postgresql" else 2)
    assert sql[0].startswith("SAVEPOINT") and sql[-1].startswith("RELEASE SAVEPOINT")
    return [q for q in sql[1:-1] if q not in own]


@pytest.mark.django_db
def test_a_report_that_can_change_nothing_reads_no_alerts_and_takes_no_savepoint(
    host: Host, rules_in_memory: None
) -> None:
    assert queries_of_one_report(host, timezone.now()) == []


@pytest.mark.django_db
@pytest.mark.parametrize("open_thing", ["firing alert", "breach"])
def test_a_host_with_something_open_has_its_rules_read(host: Host, rules_in_memory: None, open_thing: str) -> None:
    if open_thing == "firing alert":
        Alert.objects.fire("host_offline", host=host, severity="critical")
    else:
        report_through_ingest(host, timezone.now() - timedelta(seconds=10), cpu=99.0)  # cpu waits its duration
        assert Breach.objects.filter(host=host).exists()
    sql = queries_of_one_report(host, timezone.now())
    assert [q for q in sql if 'FROM "alerts_alert"' in q] and [q for q in sql if 'FROM "alerts_breach"' in q]
    assert sql[0].startswith("SAVEPOINT")  # the evaluation's own: a broken rule never costs the data


@pytest.mark.django_db
def test_a_report_resolves_host_offline_fired_by_the_sweep(host: Host, rules_in_memory: None) -> None:
    """The sweep (another process) fired it: this process learns of it only from the report's statement."""
    Alert.objects.fire("host_offline", host=host, severity="critical")
    report_through_ingest(host, timezone.now())
    assert firing("host_offline") == []


@pytest.mark.django_db
def test_a_report_below_the_level_ends_a_pending_breach(host: Host, rules_in_memory: None) -> None:
    report_through_ingest(host, timezone.now() - timedelta(seconds=10), cpu=99.0)
    assert Breach.objects.filter(host=host, rule__name="cpu").exists()
    report_through_ingest(host, timezone.now(), cpu=10.0)
    assert not Breach.objects.filter(host=host).exists()


@pytest.mark.django_db
def test_a_firing_alert_resolves_below_its_clear_level(host: Host, rules_in_memory: None) -> None:
    report_through_ingest(host, timezone.now() - timedelta(seconds=10), disk=97.0)
    assert [a.subject for a in firing("disk")] == ["/"]
    report_through_ingest(host, timezone.now(), disk=40.0)
    assert firing("disk") == []


@pytest.mark.django_db
@pytest.mark.parametrize("rules", ["in memory", "not in memory"])
def test_a_rule_crossed_on_a_host_with_nothing_open_fires(host: Host, rules: str) -> None:
    evaluate.forget_rules()
    if rules == "in memory":
        evaluate.enabled_rules()
    report_through_ingest(host, timezone.now(), disk=97.0)
    assert [a.subject for a in firing("disk")] == ["/"]


@pytest.mark.django_db
def test_a_rule_scoped_to_a_mount_is_crossed_only_by_that_mount(host: Host, rules_in_memory: None) -> None:
    AlertRule.objects.filter(name="disk").update(subject="/data")
    evaluate.forget_rules()  # update() sends no signal: the copy in memory is reloaded by hand
    evaluate.enabled_rules()
    # "/" at 99 %: the rule does not look at it.
    assert queries_of_one_report(host, timezone.now() - timedelta(seconds=10), disk=99.0) == []
    report = sample_report(timezone.now(), seed=1)
    report["disks"][1]["percent"] = 99.0  # "/data"
    ingest_reports(host, [ReportIn.model_validate(report).model_dump()])
    assert [a.subject for a in firing("disk")] == ["/data"]


@pytest.mark.django_db
def test_without_the_fact_the_rules_are_read(host: Host, rules_in_memory: None) -> None:
    """A sender that did not ask (or an app registry without the question) gets the full evaluation."""
    Alert.objects.fire("host_offline", host=host, severity="critical")
    sample = MetricSample.from_report(host, {**sample_report(timezone.now()), "collected_at": timezone.now()})
    evaluate.evaluate_stored(sender=MetricSample, host=host, samples=[sample])
    assert firing("host_offline") == []


@pytest.mark.django_db
def test_a_failure_deciding_whether_to_evaluate_keeps_the_report(
    host: Host, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from statusdash.lib.observability import ALERT_EVALUATION_FAILURES

    def broken(*args: Any) -> bool:
        raise RuntimeError("a reading that cannot be taken")

    monkeypatch.setattr(evaluate, "changes_nothing", broken)
    before = ALERT_EVALUATION_FAILURES._value.get()
    report_through_ingest(host, timezone.now())
    assert MetricSample.objects.filter(host=host).count() == 1
    assert ALERT_EVALUATION_FAILURES._value.get() == before + 1


@pytest.mark.django_db
def test_open_on_host_counts_this_hosts_firing_alerts_and_breaches_only(host: Host) -> None:
    other = Host.objects.create(name="db-1")
    at = timezone.now() - timedelta(minutes=1)

    def open_on_host() -> bool:
        nonlocal at
        at += timedelta(seconds=1)
        report = ReportIn.model_validate(sample_report(at, seed=1)).model_dump()
        return bool(MetricSample.store_batch(host, [report]).facts[evaluate.OPEN_ON_HOST])

    assert open_on_host() is False
    Alert.objects.fire("cpu", host=other)
    Alert.objects.fire("hub_thing")  # the hub's own, no host
    Alert.objects.fire("cpu", service="api")
    Alert.objects.fire("memory", host=host)
    Alert.objects.resolve("memory", host=host)
    assert open_on_host() is False
    Breach.objects.create(
        rule=AlertRule.objects.get(name="cpu"), host=other, since=at, severity="warning", value=99, updated_at=at
    )
    assert open_on_host() is False
    breach = Breach.objects.create(
        rule=AlertRule.objects.get(name="cpu"), host=host, since=at, severity="warning", value=99, updated_at=at
    )
    assert open_on_host() is True
    breach.delete()
    Alert.objects.fire("disk", host=host, subject="/")
    assert open_on_host() is True
