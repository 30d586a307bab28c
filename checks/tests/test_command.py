from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from checks.models import Check


def checks(*args: str) -> str:
    out = StringIO()
    call_command("checks", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_add_http_check_with_options():
    checks("add", "http", "https://example.test/", "--name", "site", "--expect-status", "200", "--keyword", "Hi")
    check = Check.objects.get()
    assert (check.name, check.options, check.runs_on) == ("site", {"expect_status": [200], "keyword": "Hi"}, "hub")


@pytest.mark.django_db
def test_add_runs_on_a_tag():
    checks("add", "tcp", "db.example:5432", "--name", "db", "--runs-on", "tag:prod")
    assert Check.objects.get().host_tag == "prod"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["http", "not-a-url", "--name", "x"], "target"),
        (["plugin", "/bin/sh", "--name", "x"], "target"),
        (["plugin", "/usr/lib/nagios/plugins/../../../bin/sh", "--name", "x"], "target"),
        (["http", "https://example.test/", "--name", "x", "--interval", "5"], "interval"),
        (["http", "https://example.test/", "--name", "x", "--interval", "100000"], "interval"),
    ],
)
def test_bad_input_is_an_error_naming_the_field(args, field):
    with pytest.raises(CommandError, match=f"^{field}: "):
        checks("add", *args)
    assert not Check.objects.exists()


@pytest.mark.django_db
@pytest.mark.needs_tool("/usr/lib/nagios/plugins/check_dummy", "monitoring-plugins-basic")
def test_run_prints_the_result_and_list_shows_it():
    checks("add", "plugin", "/usr/lib/nagios/plugins/check_dummy", "--name", "dummy", "--arg", "2", "--arg", "down")
    assert checks("run", "dummy").splitlines()[0] == "dummy: critical: CRITICAL: down"
    assert "dummy" in checks("list")


@pytest.mark.django_db
def test_remove():
    checks("add", "tcp", "db.example:5432", "--name", "db")
    assert checks("remove", "db").strip() == "Removed db"
    assert not Check.objects.exists()


@pytest.mark.django_db
def test_run_of_unknown_check_is_an_error():
    with pytest.raises(CommandError, match="no check 'nope'"):
        checks("run", "nope")
