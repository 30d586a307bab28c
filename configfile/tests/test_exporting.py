from __future__ import annotations

import yaml
from django.core.management import call_command

from configfile.exporting import export
from configfile.tests.conftest import CHANNEL_URL, CHECK_PASSWORD


def test_export_writes_every_kind_in_a_stable_order(configured):
    document = yaml.safe_load(export())
    assert list(document) == ["version", "hosts", "rules", "channels", "checks", "silences"]
    assert [host["name"] for host in document["hosts"]] == ["db-1", "web-1"]
    assert [rule["name"] for rule in document["rules"]] == sorted(rule["name"] for rule in document["rules"])
    assert document["hosts"][0] == {"name": "db-1", "enabled": False, "agent_auto_update": True}
    web_disk = next(rule for rule in document["rules"] if rule["name"] == "web-disk")
    assert web_disk == {
        "name": "web-disk",
        "metric": "disk",
        "warning_level": 80.0,
        "critical_level": 95.0,
        "host": "web-1",
        "subject": "/",
    }
    assert document["silences"] == [
        {
            "hosts": ["web-1"],
            "tags": ["eu"],
            "starts_at": "2030-01-02T03:00:00Z",
            "ends_at": "2030-01-02T05:00:00Z",
            "reason": "deploy",
        }
    ]


def test_export_is_the_same_twice(configured):
    assert export() == export()


def test_export_writes_no_secret_in_clear_but_references_and_lists_them(configured):
    text = export()
    assert CHANNEL_URL not in text and "s3cret" not in text and CHECK_PASSWORD not in text
    document = yaml.safe_load(text)
    assert document["channels"][0]["url"] == "${STATUSDASH_CHANNEL_OPS_URL}"
    site = next(check for check in document["checks"] if check["name"] == "site")
    assert site["password"] == "${STATUSDASH_CHECK_SITE_PASSWORD}"
    assert site["username"] == "probe"  # a user name is no secret
    assert "bearer_token" not in site  # empty: nothing to hide, nothing written
    assert "#   STATUSDASH_CHANNEL_OPS_URL: channel ops, url" in text


def test_export_keeps_check_options_that_differ_from_their_defaults(configured):
    site = next(check for check in yaml.safe_load(export())["checks"] if check["name"] == "site")
    assert site["options"] == {"keyword": "Welcome"}


def test_export_only_some_kinds(configured):
    assert list(yaml.safe_load(export(["rules", "channels"]))) == ["version", "rules", "channels"]


def test_export_leaves_out_silences_that_are_over(configured):
    silence = configured["silence"]
    silence.end(None)
    silence.starts_at = silence.ends_at = silence.starts_at.replace(year=2020)
    silence.save()
    assert yaml.safe_load(export())["silences"] == []


def test_export_command_refuses_an_unknown_kind(configured, capsys):
    import pytest
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown kinds alerts"):
        call_command("export", "--only", "rules,alerts")


def test_export_command_prints_the_file(configured, capsys):
    call_command("export", "--only", "hosts")
    assert yaml.safe_load(capsys.readouterr().out)["hosts"][1]["name"] == "web-1"


def test_export_can_write_the_secrets_apart_in_a_private_file(configured, tmp_path, capsys):
    import shlex
    import stat

    path = tmp_path / "secrets.env"
    call_command("export", "--secrets-file", str(path))
    assert CHANNEL_URL not in capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    assert {name: shlex.split(value)[0] for name, value in values.items()} == {
        "STATUSDASH_CHANNEL_OPS_URL": CHANNEL_URL,
        "STATUSDASH_CHECK_SITE_PASSWORD": CHECK_PASSWORD,
    }
