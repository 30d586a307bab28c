from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.models import AlertRule, AuditEntry, NotificationChannel, Silence
from checks.models import Check
from configfile.applying import apply_text
from configfile.exporting import export
from configfile.tests.conftest import CHANNEL_URL, CHECK_PASSWORD, SECRET_ENV
from hosts.models import Host


def empty_the_hub() -> None:
    for model in (Silence, Check, NotificationChannel, AlertRule, Host):
        model.objects.all().delete()


def snapshot() -> list[tuple]:
    """Every configured row as stored, to show that nothing was written."""
    return [
        *Host.objects.values_list(),
        *AlertRule.objects.values_list(),
        *NotificationChannel.objects.values_list(),
        *Check.objects.values_list(),
        *Silence.objects.values_list(),
        *Silence.hosts.through.objects.values_list(),
    ]


def test_export_then_apply_on_an_empty_hub_then_export_gives_the_same_file(configured):
    exported = export()
    empty_the_hub()
    outcome = apply_text(exported, environ=SECRET_ENV)
    assert outcome.errors == [] and outcome.applied
    assert export() == exported
    # The secrets came from the environment, not the file.
    assert NotificationChannel.objects.get().url == CHANNEL_URL
    assert Check.objects.get(name="site").password == CHECK_PASSWORD
    assert set(Silence.objects.get().hosts.values_list("name", flat=True)) == {"web-1"}


def test_applying_an_exported_file_to_the_same_hub_changes_nothing(configured):
    before = snapshot()
    outcome = apply_text(export(), environ=SECRET_ENV)
    assert (outcome.errors, outcome.changes, outcome.diff()) == ([], [], "no changes")
    assert snapshot() == before


def test_applying_twice_changes_nothing_the_second_time(configured):
    text = export().replace("warning_level: 80.0", "warning_level: 70.0").replace("reason: deploy", "reason: rollout")
    first = apply_text(text, environ=SECRET_ENV)
    assert [(c.kind, c.name, c.action) for c in first.changes] == [
        ("rule", "web-disk", "update"),
        ("silence", "web-1, tag:eu from 2030-01-02T03:00:00Z", "update"),
    ]
    audit_entries = AuditEntry.objects.count()
    before = snapshot()
    second = apply_text(text, environ=SECRET_ENV)
    assert (second.errors, second.diff()) == ([], "no changes")
    assert snapshot() == before and AuditEntry.objects.count() == audit_entries


def test_the_diff_names_each_changed_field_with_its_old_and_new_value(configured):
    text = export().replace("warning_level: 80.0", "warning_level: 70.0").replace("  send_resolved: false\n", "")
    outcome = apply_text(text, environ=SECRET_ENV)
    assert outcome.diff() == textwrap.dedent(
        """\
        ~ update rule web-disk
            warning_level: 80.0 -> 70.0
        ~ update channel ops
            send_resolved: false -> true"""
    )
    assert AlertRule.objects.get(name="web-disk").warning_level == 70
    assert NotificationChannel.objects.get().send_resolved is True


def test_a_created_object_lists_the_fields_it_sets_and_never_a_secret(db):
    text = """
channels:
  - name: pager
    url: ${STATUSDASH_PAGER_URL}
    min_severity: critical
"""
    outcome = apply_text(text, environ={"STATUSDASH_PAGER_URL": "json://127.0.0.1:9/pager"})
    assert (
        outcome.diff() == "+ create channel pager\n    name: 'pager'\n    url: (secret)\n    min_severity: 'critical'"
    )
    assert NotificationChannel.objects.get().url == "json://127.0.0.1:9/pager"


def test_a_changed_secret_is_a_change_that_does_not_show_the_secret(configured):
    outcome = apply_text(export(), environ={**SECRET_ENV, "STATUSDASH_CHANNEL_OPS_URL": "json://127.0.0.1:9/new"})
    assert outcome.diff() == "~ update channel ops\n    url: changed (a secret, not shown)"
    assert "127.0.0.1:9/new" not in str(outcome.changes[0].as_json())


def test_a_file_with_three_errors_reports_all_three_with_their_lines_and_changes_nothing(configured):
    before = snapshot()
    text = textwrap.dedent(
        """\
        hosts:
          - name: web-9
        rules:
          - name: hot
            metric: temperature
            warning_level: 80
            critical_level: 70
          - name: busy
            metric: cpuu
            warning_level: 90
        channels:
          - name: pager
            url: ${STATUSDASH_PAGER_URL}
        """
    )
    outcome = apply_text(text, environ={})
    assert [str(error) for error in outcome.errors] == [
        "line 7: rules[0].critical_level: The critical level must be at least the warning level.",
        "line 9: rules[1].metric: Input should be 'cpu', 'memory', 'swap', 'load', 'disk', 'network_in', "
        "'network_out' or 'temperature'",
        "line 13: channels[0].url: ${STATUSDASH_PAGER_URL} is not set in the environment",
    ]
    assert not outcome.applied
    assert snapshot() == before and not Host.objects.filter(name="web-9").exists()


def test_an_error_in_a_later_object_undoes_the_earlier_ones(db):
    text = """
hosts:
  - name: web-9
checks:
  - name: bad
    kind: tcp
    target: no-port-here
"""
    outcome = apply_text(text)
    assert [str(e) for e in outcome.errors] == ["line 7: checks[0].target: 'no-port-here' needs a port: host:port."]
    assert not Host.objects.filter(name="web-9").exists()


def test_a_rule_may_name_a_host_the_same_file_creates_even_further_down(db):
    text = """
rules: [{name: web-9-cpu, metric: cpu, warning_level: 90, host: web-9}]
checks: [{name: web-9-ssh, kind: tcp, target: "web-9.internal:22", runs_on: web-9}]
hosts: [{name: web-9, tags: [prod]}]
"""
    assert apply_text(text).errors == []
    assert AlertRule.objects.get(name="web-9-cpu").host.name == "web-9"
    assert Check.objects.get(name="web-9-ssh").host.name == "web-9"


def test_a_rule_naming_no_host_is_an_error_naming_the_field(db):
    outcome = apply_text("rules: [{name: r, metric: cpu, warning_level: 90, host: nowhere}]")
    assert [str(e) for e in outcome.errors] == ["line 1: rules[0].host: no host is called 'nowhere'"]


def test_dry_run_changes_nothing_but_says_what_it_would(configured):
    before = snapshot()
    text = export().replace("warning_level: 80.0", "warning_level: 70.0")
    outcome = apply_text(text, dry_run=True, prune=True, environ=SECRET_ENV)
    assert outcome.diff() == "~ update rule web-disk\n    warning_level: 80.0 -> 70.0"
    assert not outcome.applied
    assert snapshot() == before


def test_prune_removes_only_objects_of_the_kinds_the_file_lists(configured):
    text = """
rules:
  - {name: cpu, metric: cpu, warning_level: 90, clear_level: 85, duration_seconds: 300}
checks: []
"""
    outcome = apply_text(text, prune=True)
    assert outcome.errors == []
    assert sorted((c.kind, c.name, c.action) for c in outcome.changes) == [
        ("check", "db-port", "delete"),
        ("check", "site", "delete"),
        ("rule", "disk", "delete"),
        ("rule", "memory", "delete"),
        ("rule", "web-disk", "delete"),
    ]
    assert list(AlertRule.objects.values_list("name", flat=True)) == ["cpu"]
    assert not Check.objects.exists()
    # Kinds the file does not list are not touched.
    assert Host.objects.count() == 2 and NotificationChannel.objects.count() == 1 and Silence.objects.count() == 1


def test_without_prune_objects_the_file_does_not_name_stay(configured):
    outcome = apply_text("checks: []")
    assert outcome.diff() == "no changes" and Check.objects.count() == 2


def test_prune_refuses_a_reference_to_a_host_it_would_delete(configured):
    text = """
hosts: [{name: db-1, enabled: false, agent_auto_update: true}]
rules: [{name: web-disk, metric: disk, warning_level: 80, critical_level: 95, host: web-1, subject: /}]
"""
    outcome = apply_text(text, prune=True)
    assert [str(e) for e in outcome.errors] == [
        "line 3: rules[0].host: host 'web-1' is not in the file's hosts, and --prune deletes it"
    ]
    assert Host.objects.filter(name="web-1").exists()


def test_prune_ends_a_silence_in_force_and_keeps_its_record(configured):
    silence = configured["silence"]
    silence.starts_at = timezone.now() - timedelta(minutes=5)
    silence.save()
    outcome = apply_text("silences: []", prune=True)
    assert [(c.kind, c.action) for c in outcome.changes] == [("silence", "end")]
    silence.refresh_from_db()
    assert not silence.is_active()


def test_prune_deletes_a_silence_not_yet_started_and_leaves_past_ones(configured):
    past = Silence.objects.create(
        starts_at=datetime(2020, 1, 1, tzinfo=UTC), ends_at=datetime(2020, 1, 2, tzinfo=UTC), reason="old"
    )
    outcome = apply_text("silences: []", prune=True)
    assert [(c.kind, c.action) for c in outcome.changes] == [("silence", "delete")]
    assert list(Silence.objects.all()) == [past]


def test_a_silence_is_known_by_what_it_covers_and_its_start(configured):
    text = export(["silences"]).replace("2030-01-02T05:00:00Z", "2030-01-02T06:00:00Z")
    outcome = apply_text(text)
    assert [(c.action, [f.field for f in c.fields]) for c in outcome.changes] == [("update", ["ends_at"])]
    assert Silence.objects.get().ends_at == datetime(2030, 1, 2, 6, tzinfo=UTC)
    # Another start is another silence.
    moved = export(["silences"]).replace("2030-01-02T03:00:00Z", "2030-01-02T04:00:00Z")
    assert [c.action for c in apply_text(moved).changes] == ["create"]
    assert Silence.objects.count() == 2


def test_a_silence_ending_before_it_starts_is_refused_by_the_model(db):
    text = "silences: [{starts_at: '2030-01-01T10:00:00Z', ends_at: '2030-01-01T09:00:00Z', reason: x, hub: true}]"
    assert [str(e) for e in apply_text(text).errors] == [
        "line 1: silences[0].ends_at: A silence must end after it starts."
    ]


def test_a_time_without_a_zone_is_refused(db):
    text = "silences: [{starts_at: '2030-01-01T10:00:00', ends_at: '2030-01-01T11:00:00Z', reason: x, hub: true}]"
    errors = apply_text(text).errors
    assert [(e.path, e.line) for e in errors] == [(("silences", 0, "starts_at"), 1)]
    assert "timezone" in errors[0].message


def test_a_reference_to_a_variable_not_named_statusdash_is_refused(db, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_COPY", "hub-secret")
    text = "channels: [{name: leak, url: '${SECRET_KEY_COPY}'}]"
    errors = apply_text(text).errors
    assert [str(e) for e in errors] == [
        "line 1: channels[0].url: ${SECRET_KEY_COPY}: only variables named STATUSDASH_… may be referenced"
    ]
    assert not NotificationChannel.objects.exists()


def test_references_are_read_from_the_process_environment_by_default(db, monkeypatch):
    monkeypatch.setenv("STATUSDASH_PAGER_URL", "json://127.0.0.1:9/pager")
    assert apply_text("channels: [{name: pager, url: '${STATUSDASH_PAGER_URL}'}]").errors == []
    assert NotificationChannel.objects.get().url == "json://127.0.0.1:9/pager"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: [\n  {name: x\n", "line 3: file: not valid YAML: expected ',' or '}', but got '<stream end>'"),
        ("rules:\n  - name: a\n    name: b\n", "line 3: rules[0].name: 'name' is given twice (also on line 2)"),
        ("rule: []\n", "line 1: rule: unknown kind 'rule': one of version, hosts, rules, channels, checks, silences"),
        ("version: 2\n", "line 1: version: this hub reads version 1"),
        ("rules:\n", "line 1: rules: must be a list (write [] for none)"),
        ("- a\n", "line 1: file: the file must be a mapping of kinds (hosts:, rules:, …)"),
        ("hosts:\n  - name: web-9\n    colour: red\n", "line 3: hosts[0].colour: Extra inputs are not permitted"),
        ("hosts:\n  - name: a\n  - name: a\n", "line 3: hosts[1]: host 'a' is given twice (also item 0)"),
        ("a: &x [1]\nb: *x\n", "line 2: b: YAML aliases (*name) are not supported"),
    ],
)
def test_malformed_files_are_refused_with_the_line(db, text, expected):
    outcome = apply_text(text)
    assert [str(e) for e in outcome.errors][:1] == [expected]
    assert not outcome.changes or not outcome.applied


def test_json_is_a_file_too(db):
    outcome = apply_text('{"hosts": [{"name": "web-9", "tags": ["prod"]}]}')
    assert outcome.errors == [] and Host.objects.get().tags == ["prod"]


def test_check_options_at_their_defaults_change_nothing_the_second_time(db):
    text = "checks: [{name: s, kind: http, target: 'https://example.test/', options: {method: GET, keyword: hi}}]"
    assert apply_text(text).errors == []
    assert Check.objects.get().options == {"keyword": "hi"}
    assert apply_text(text).diff() == "no changes"


def test_a_yaml_alias_bomb_is_refused_without_being_expanded(db):
    # Nine levels of nine aliases: a billion strings if anything expanded it.
    lines = ['a0: &a0 "lol"'] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    errors = apply_text("\n".join(lines)).errors
    assert errors and all(e.message == "YAML aliases (*name) are not supported" for e in errors)


def test_prune_deletes_hosts_the_file_does_not_name_with_their_rules(configured):
    text = export(["hosts"]).replace("- name: db-1\n  enabled: false\n  agent_auto_update: true\n", "")
    outcome = apply_text(text, prune=True)
    assert [(c.kind, c.name, c.action) for c in outcome.changes] == [("host", "db-1", "delete")]
    assert list(Host.objects.values_list("name", flat=True)) == ["web-1"]
    assert AlertRule.objects.filter(name="web-disk").exists()


def test_an_applied_silence_redraws_the_hosts_it_covers(configured):
    from hosts.signals import host_changed

    heard = []

    def receiver(sender, host_id, **kwargs):
        heard.append(host_id)

    host_changed.connect(receiver)
    try:
        text = export(["silences"]).replace("2030-01-02T03:00:00Z", "2030-01-02T04:00:00Z")
        assert apply_text(text).errors == []
    finally:
        host_changed.disconnect(receiver)
    assert configured["web1"].pk in heard
