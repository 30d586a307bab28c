from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts.models import Alert, AlertState, Severity, Silence
from checks.models import CHECK_ALERT_RULE, Check, CheckFlip, CheckState, Outcome


def errors_of(**fields) -> dict[str, list[str]]:
    check = Check(**{"name": "c", "kind": "http", "target": "https://example.test/", **fields})
    with pytest.raises(ValidationError) as caught:
        check.full_clean()
    return caught.value.message_dict


@pytest.mark.django_db
def test_http_target_that_is_not_a_url_is_refused():
    assert errors_of(target="not a url") == {"target": ["'not a url' is not an http:// or https:// URL."]}


@pytest.mark.django_db
def test_http_target_with_another_scheme_is_refused():
    assert "target" in errors_of(target="ftp://example.test/")


@pytest.mark.django_db
@pytest.mark.parametrize("interval", [19, 86401, 0])
def test_interval_out_of_range_is_refused(interval):
    assert "interval" in errors_of(interval=interval)


@pytest.mark.django_db
def test_plugin_outside_the_allow_list_is_refused():
    errors = errors_of(kind="plugin", target="/bin/sh")
    assert "outside the plugin directories" in errors["target"][0]


@pytest.mark.django_db
def test_plugin_path_with_dot_dot_is_refused():
    errors = errors_of(kind="plugin", target="/usr/lib/nagios/plugins/../../../../bin/sh")
    assert "contains '..'" in errors["target"][0]


@pytest.mark.django_db
def test_plugin_path_that_is_relative_is_refused():
    assert "not an absolute path" in errors_of(kind="plugin", target="check_dummy")["target"][0]


@pytest.mark.django_db
def test_plugin_directory_prefix_is_not_enough():
    # /usr/lib/nagios/plugins-evil is not inside /usr/lib/nagios/plugins
    assert "target" in errors_of(kind="plugin", target="/usr/lib/nagios/plugins-evil/x")


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["db.example", "db.example:0", "db.example:99999", "a b:5432"])
def test_tcp_target_needs_a_host_and_a_port(target):
    assert "target" in errors_of(kind="tcp", target=target)


@pytest.mark.django_db
def test_unknown_option_is_refused_naming_it():
    errors = errors_of(options={"keywrd": "x"})
    assert errors == {"options": ["keywrd: Extra inputs are not permitted"]}


@pytest.mark.django_db
def test_timeout_longer_than_interval_is_refused():
    assert list(errors_of(interval=20, timeout=30)) == ["timeout"]


@pytest.mark.django_db
def test_credentials_on_a_tcp_check_are_refused():
    assert list(errors_of(kind="tcp", target="db.example:5432", password="x")) == ["password"]


@pytest.mark.django_db
def test_name_of_digits_alone_is_refused():
    assert "name" in errors_of(name="123")


@pytest.mark.django_db
def test_valid_check_keeps_only_options_that_differ_from_defaults(make_check):
    check = make_check("http", "https://example.test/", options={"method": "GET", "keyword": "hi"})
    assert check.options == {"keyword": "hi"}


@pytest.mark.django_db
def test_runs_on_names_a_host_a_tag_or_the_hub(make_check, host):
    check = make_check("tcp", "db.example:5432")
    check.set_runs_on("web-1")
    assert (check.host, check.runs_on) == (host, "web-1")
    check.set_runs_on("tag:prod")
    assert (check.host, check.host_tag, check.runs_on) == (None, "prod", "tag:prod")
    check.set_runs_on("hub")
    assert check.runs_on == "hub"


@pytest.mark.django_db
def test_runs_on_an_unknown_host_is_refused(make_check):
    with pytest.raises(ValidationError) as caught:
        make_check("tcp", "db.example:5432").apply_changes({"runs_on": "nowhere"})
    assert list(caught.value.message_dict) == ["runs_on"]


@pytest.mark.django_db
def test_bad_change_saves_nothing(make_check):
    check = make_check("http", "https://example.test/")
    with pytest.raises(ValidationError):
        check.apply_changes({"interval": 30, "target": "nope"})
    assert Check.objects.get(pk=check.pk).interval == 60


FAIL = Outcome(CheckState.CRITICAL, "connection refused")
OK = Outcome(CheckState.OK, "HTTP 200", 12.5)


@pytest.mark.django_db
def test_one_failure_within_retries_changes_nothing(make_check):
    check = make_check("http", "https://example.test/", retries=1)
    check.record(OK)
    check.record(FAIL)
    assert (check.state, check.consecutive_failures) == (CheckState.OK, 1)
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_down_after_retries_plus_one_failures_fires_alert(make_check):
    check = make_check("http", "https://example.test/", retries=1)
    check.record(OK)
    check.record(FAIL)
    check.record(FAIL)
    assert check.state == CheckState.CRITICAL
    alert = Alert.objects.get()
    assert (alert.rule, alert.service, alert.severity, alert.state) == (
        CHECK_ALERT_RULE,
        check.name,
        Severity.CRITICAL,
        AlertState.FIRING,
    )
    assert "connection refused" in alert.message


@pytest.mark.django_db
def test_zero_retries_is_down_at_the_first_failure(make_check):
    check = make_check("http", "https://example.test/", retries=0)
    check.record(OK)
    check.record(FAIL)
    assert check.state == CheckState.CRITICAL


@pytest.mark.django_db
def test_new_check_failing_once_is_not_yet_down(make_check):
    check = make_check("http", "https://example.test/", retries=1)
    check.record(FAIL)
    assert check.state == CheckState.UNKNOWN
    check.record(FAIL)
    assert check.state == CheckState.CRITICAL


@pytest.mark.django_db
def test_one_good_run_recovers_and_resolves_the_alert(make_check):
    check = make_check("http", "https://example.test/", retries=0)
    check.record(FAIL)
    check.record(OK)
    assert (check.state, check.consecutive_failures) == (CheckState.OK, 0)
    assert Alert.objects.get().state == AlertState.RESOLVED


@pytest.mark.django_db
def test_state_changes_are_rows(make_check):
    check = make_check("http", "https://example.test/", retries=0)
    at = datetime(2026, 5, 1, tzinfo=UTC)
    check.record(OK, at)
    check.record(FAIL, at + timedelta(minutes=1))
    check.record(FAIL, at + timedelta(minutes=2))
    check.record(OK, at + timedelta(minutes=3))
    flips = [(f.old_state, f.new_state, f.at - at) for f in CheckFlip.objects.filter(service_check=check)]
    assert flips == [
        ("unknown", "ok", timedelta(0)),
        ("ok", "critical", timedelta(minutes=1)),
        ("critical", "ok", timedelta(minutes=3)),
    ]


@pytest.mark.django_db
def test_warning_after_retries_fires_a_warning(make_check):
    check = make_check("tls", "example.test:443", retries=0)
    check.record(Outcome(CheckState.WARNING, "expires in 10 days"))
    assert Alert.objects.get().severity == Severity.WARNING


@pytest.mark.django_db
def test_long_message_is_cut_to_500_characters(make_check):
    check = make_check("http", "https://example.test/")
    result = check.record(Outcome(CheckState.CRITICAL, "x" * 5000))
    assert len(result.message) == 500


@pytest.mark.django_db
def test_silence_of_the_check_covers_its_alert(make_check):
    check = make_check("http", "https://example.test/", retries=0)
    check.record(FAIL)
    silence = Silence(services=[check.name], ends_at=datetime.now(UTC) + timedelta(hours=1), reason="maintenance")
    assert silence.covers(Alert.objects.get())


@pytest.mark.django_db
def test_deleting_a_down_check_resolves_its_alert(make_check):
    check = make_check("http", "https://example.test/", retries=0)
    check.record(FAIL)
    check.delete()
    assert Alert.objects.get().state == AlertState.RESOLVED


@pytest.mark.django_db
def test_renaming_a_down_check_resolves_the_old_alert(make_check):
    check = make_check("http", "https://example.test/", retries=0)
    check.record(FAIL)
    check.apply_changes({"name": "renamed"})
    assert Alert.objects.get(service="http-1").state == AlertState.RESOLVED
