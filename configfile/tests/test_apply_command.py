from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts.models import AlertRule
from configfile.exporting import export
from configfile.tests.conftest import SECRET_ENV


@pytest.fixture
def secret_env(monkeypatch):
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("apply", *args, stdout=out)
    return out.getvalue()


def test_apply_prints_the_diff_and_applies_it(configured, secret_env, tmp_path):
    path = tmp_path / "statusdash.yaml"
    path.write_text(export().replace("warning_level: 80.0", "warning_level: 75.0"))
    assert run(str(path)) == "~ update rule web-disk\n    warning_level: 80.0 -> 75.0\n"
    assert AlertRule.objects.get(name="web-disk").warning_level == 75
    assert run(str(path)) == "no changes\n"


def test_apply_dry_run_says_so_and_changes_nothing(configured, secret_env, tmp_path):
    path = tmp_path / "statusdash.yaml"
    path.write_text(export().replace("warning_level: 80.0", "warning_level: 75.0"))
    assert run(str(path), "--dry-run").endswith("(dry run: nothing was changed)\n")
    assert AlertRule.objects.get(name="web-disk").warning_level == 80


def test_apply_prints_every_error_with_file_and_line_and_fails(configured, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rules:\n  - name: a\n    metric: cpu\n  - name: b\n    metric: nope\n    warning_level: 1\n")
    errors = io.StringIO()
    with pytest.raises(CommandError, match="2 error\\(s\\); nothing was changed"):
        call_command("apply", str(path), stderr=errors)
    assert errors.getvalue().splitlines() == [
        f"{path}: line 2: rules[0].warning_level: Field required",
        f"{path}: line 5: rules[1].metric: Input should be 'cpu', 'memory', 'swap', 'load', 'disk', 'network_in', "
        "'network_out' or 'temperature'",
    ]
    assert not AlertRule.objects.filter(name__in=["a", "b"]).exists()


def test_apply_names_a_file_it_cannot_read(db, tmp_path):
    with pytest.raises(CommandError, match=r"cannot read .*missing\.yaml"):
        call_command("apply", str(tmp_path / "missing.yaml"))


def test_apply_prune_flag_removes_what_the_file_does_not_name(configured):
    from unittest import mock

    # The file on standard input (a pipe from git show, say).
    with mock.patch("sys.stdin", io.StringIO("checks: []\n")):
        assert run("-", "--prune") == "- delete check db-port\n- delete check site\n"
