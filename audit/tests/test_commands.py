"""Changes a person makes at a shell (`manage.py users`, `checks`, …) are in the audit trail."""

from __future__ import annotations

import getpass
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def run(*argv: str) -> None:
    call_command(*argv, stdout=StringIO(), stderr=StringIO())


def rows() -> list[tuple[str, str, str, str]]:
    return list(AuditEvent.objects.order_by("id").values_list("actor_name", "action", "object_type", "object_label"))


def test_a_user_added_and_given_a_role_at_the_shell_is_recorded_with_who_ran_it(settings: Any) -> None:
    settings.PUBLIC_URL = "https://status.example.test"
    run("users", "add", "carol", "--role", "viewer")
    run("users", "role", "carol", "operator")
    who = f"manage.py users ({getpass.getuser()})"
    carol = User.objects.get(username="carol")
    recorded = AuditEvent.objects.filter(object_type="auth.user", object_id=str(carol.pk))
    assert {row.actor_name for row in recorded} == {who}
    assert recorded.filter(action="created").exists()
    groups = [row.changes["groups"][1] for row in recorded.order_by("id") if "groups" in row.changes]
    assert groups[0] == ["viewer"] and groups[-1] == ["operator"]
    assert all(row.address == "" for row in recorded)  # no network address: a shell


def test_a_check_added_at_the_shell_is_recorded() -> None:
    run("checks", "add", "tcp", "127.0.0.1:9", "--name", "db-port")
    assert (f"manage.py checks ({getpass.getuser()})", "created", "checks.check", "db-port") in rows()


def test_the_systems_own_commands_record_nothing(settings: Any) -> None:
    settings.STATUS_ADMIN_PASSWORD = "a-long-enough-password"
    run("ensure_admin")  # every start runs it: not a person's change
    assert User.objects.filter(username="admin").exists()
    assert rows() == []
