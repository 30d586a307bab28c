"""An audit row for every kind of change a person makes, each done through its real path
(the dashboard, the admin, the API), with who, from where, what and before/after."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from accounts.models import PersonalToken
from alerts.models import Alert, AlertRule, NotificationChannel, Silence
from audit.models import AuditEvent
from audit.trail import REDACTED
from checks.models import Check
from hosts import pki
from hosts.auth import issue_token
from hosts.models import ApiKey, Certificate, Host

PASSWORD = "correct horse battery"


@dataclass
class World:
    client: Client
    admin: User
    host: Host


@pytest.fixture
def world(db: Any, ca: pki.CertificateAuthority, client: Client) -> World:
    admin = User.objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin)
    AuditEvent.objects.all().delete()  # the log-in above is not what the cases are about
    return World(client, admin, Host.objects.create(name="web-1"))


def firing(host: Host) -> Alert:
    return Alert.objects.fire("disk", host=host, subject="/", severity="warning", message="disk / at 93%")


def admin_action(w: World, changelist: str, action: str, *pks: int) -> None:
    response = w.client.post(changelist, {"action": action, "_selected_action": list(pks)})
    assert response.status_code == 302, response.content[:500]


def admin_delete(w: World, path: str) -> None:
    assert w.client.post(f"{path}delete/", {"post": "yes"}).status_code == 302


def add_host_page(w: World) -> None:
    assert w.client.post("/add-host/", {"name": "db-1", "tags": "prod", "hours": 24}).status_code == 201


def host_auto_update_in_admin(w: World) -> None:
    admin_action(w, "/admin/hosts/host/", "update_agent", w.host.pk)


def host_deleted_in_admin(w: World) -> None:
    admin_delete(w, f"/admin/hosts/host/{w.host.pk}/")


def agent_key_in_admin(w: World) -> None:
    admin_action(w, "/admin/hosts/host/", "create_agent_key", w.host.pk)


def agent_key_revoked_in_admin(w: World) -> None:
    key, _ = ApiKey.issue("agent", host=w.host)
    admin_action(w, "/admin/hosts/apikey/", "revoke", key.pk)


def enrollment_token_in_admin(w: World) -> None:
    admin_action(w, "/admin/hosts/host/", "make_enrollment_token", w.host.pk)


def certificate_revoked_in_admin(w: World) -> None:
    record, _ = Certificate.issue_client(w.host, pki.generate_key().public_key())
    admin_action(w, "/admin/hosts/certificate/", "revoke", record.pk)


def rule_added_in_admin(w: World) -> None:
    data = {"name": "load-high", "metric": "load", "warning_level": "4", "duration_seconds": "0", "enabled": "on"}
    response = w.client.post("/admin/alerts/alertrule/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]


def rule_deleted_in_admin(w: World) -> None:
    rule = AlertRule.objects.create(name="swap-high", metric="memory", warning_level=90)
    admin_delete(w, f"/admin/alerts/alertrule/{rule.pk}/")


def channel_deleted_in_admin(w: World) -> None:
    channel = NotificationChannel.objects.create(name="ops", url="ntfys://user:hunter2@ntfy.example/ops")
    admin_delete(w, f"/admin/alerts/notificationchannel/{channel.pk}/")


def silence_from_dashboard(w: World) -> None:
    alert = firing(w.host)
    assert w.client.post(f"/alerts/{alert.pk}/silence", {"duration": "1h", "reason": "deploy"}).status_code == 302


def silence_ended_from_dashboard(w: World) -> None:
    silence_from_dashboard(w)
    silence = Silence.objects.get()
    assert w.client.post(f"/alerts/silences/{silence.pk}/end", {}).status_code == 302


def acknowledged_from_dashboard(w: World) -> None:
    alert = firing(w.host)
    assert w.client.post(f"/alerts/{alert.pk}/acknowledge").status_code == 302


def unacknowledged_from_dashboard(w: World) -> None:
    alert = firing(w.host)
    alert.acknowledge(w.admin)
    assert w.client.post(f"/alerts/{alert.pk}/unacknowledge").status_code == 302


def channel_tested_in_admin(w: World) -> None:
    channel = NotificationChannel.objects.create(name="hook", url="json://127.0.0.1:9/")
    admin_action(w, "/admin/alerts/notificationchannel/", "send_test", channel.pk)


def check_added_by_api(w: World) -> None:
    body = {"name": "site", "kind": "http", "target": "http://probe:s3cret@127.0.0.1:9/", "password": "pw-secret"}
    response = w.client.post("/api/checks", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content


def check_changed_by_api_with_a_jwt(w: World) -> None:
    Check.objects.create(name="site", kind="http", target="http://127.0.0.1:9/")
    token, _ = issue_token(w.admin)
    response = Client().patch(
        "/api/checks/site",
        json.dumps({"interval": 120}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content


def check_deleted_by_api(w: World) -> None:
    Check.objects.create(name="site", kind="http", target="http://127.0.0.1:9/")
    assert w.client.delete("/api/checks/site").status_code == 204


def user_added_in_admin(w: World) -> None:
    data = {"username": "bob", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"}
    response = w.client.post("/admin/auth/user/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]


def role_changed_in_admin(w: World) -> None:
    bob = User.objects.create_user("bob", password=PASSWORD)
    data = {
        "username": "bob",
        "is_active": "on",
        "groups": [Group.objects.get(name="operator").pk],
        "date_joined_0": bob.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": bob.date_joined.strftime("%H:%M:%S"),
    }
    response = w.client.post(f"/admin/auth/user/{bob.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]


def personal_token_by_api(w: World) -> None:
    body = {"name": "grafana", "scope": "viewer", "expires_in_days": 30}
    response = w.client.post("/api/tokens", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content


def personal_token_revoked_on_page(w: World) -> None:
    token, _ = PersonalToken.issue(w.admin, "ci", "operator")
    assert w.client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302


@dataclass
class Case:
    do: Callable[[World], None]
    action: str
    object_type: str
    fields: tuple[str, ...] = ()  # fields the row's changes must name


CASES = {
    "host added on the add-host page": Case(add_host_page, "created", "hosts.host", ("name", "tags")),
    "enrollment token of the add-host page": Case(add_host_page, "created", "hosts.enrollmenttoken", ("host",)),
    "host changed by an admin action": Case(host_auto_update_in_admin, "changed", "hosts.host", ("agent_auto_update",)),
    "host deleted in the admin": Case(host_deleted_in_admin, "deleted", "hosts.host", ("name",)),
    "agent key created in the admin": Case(agent_key_in_admin, "created", "hosts.apikey", ("scope", "hashed")),
    "agent key revoked in the admin": Case(agent_key_revoked_in_admin, "changed", "hosts.apikey", ("revoked_at",)),
    "enrollment token made in the admin": Case(
        enrollment_token_in_admin, "created", "hosts.enrollmenttoken", ("host",)
    ),
    "certificate revoked in the admin": Case(
        certificate_revoked_in_admin, "changed", "hosts.certificate", ("revoked_at", "revocation_reason")
    ),
    "alert rule added in the admin": Case(rule_added_in_admin, "created", "alerts.alertrule", ("name", "metric")),
    "alert rule deleted in the admin": Case(rule_deleted_in_admin, "deleted", "alerts.alertrule", ("warning_level",)),
    "channel deleted in the admin": Case(channel_deleted_in_admin, "deleted", "alerts.notificationchannel", ("url",)),
    "test notification sent in the admin": Case(channel_tested_in_admin, "test-sent", "alerts.notificationchannel"),
    "silence from the dashboard": Case(silence_from_dashboard, "created", "alerts.silence", ("ends_at", "reason")),
    "silence ended from the dashboard": Case(silence_ended_from_dashboard, "changed", "alerts.silence", ("ends_at",)),
    "acknowledged from the dashboard": Case(acknowledged_from_dashboard, "acknowledged", "alerts.alert"),
    "unacknowledged from the dashboard": Case(unacknowledged_from_dashboard, "unacknowledged", "alerts.alert"),
    "check added by the API": Case(check_added_by_api, "created", "checks.check", ("name", "target", "password")),
    "check changed by the API with a JWT": Case(
        check_changed_by_api_with_a_jwt, "changed", "checks.check", ("interval",)
    ),
    "check deleted by the API": Case(check_deleted_by_api, "deleted", "checks.check", ("name",)),
    "user added in the admin": Case(user_added_in_admin, "created", "auth.user", ("username", "password")),
    "role changed in the admin": Case(role_changed_in_admin, "changed", "auth.user", ("groups",)),
    "personal token created by the API": Case(personal_token_by_api, "created", "accounts.personaltoken", ("scope",)),
    "personal token revoked on its page": Case(
        personal_token_revoked_on_page, "changed", "accounts.personaltoken", ("revoked_at",)
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_persons_change_is_an_audit_row(world: World, case: Case) -> None:
    case.do(world)
    rows = AuditEvent.objects.filter(action=case.action, object_type=case.object_type)
    assert rows, list(AuditEvent.objects.values_list("action", "object_type"))
    row = rows.first()
    assert row is not None
    assert (row.actor_id, row.actor_name, row.address) == (world.admin.pk, "root", "127.0.0.1")
    assert row.object_id and row.object_label
    assert set(case.fields) <= set(row.changes), row.changes


@pytest.mark.django_db
def test_a_change_shows_before_and_after(world: World) -> None:
    host_auto_update_in_admin(world)
    row = AuditEvent.objects.get(object_type="hosts.host", action="changed")
    assert row.changes == {"agent_auto_update": [False, True]}
    assert row.object_label == "web-1" and row.object_id == str(world.host.pk)


@pytest.mark.django_db
def test_a_role_change_lists_the_groups_before_and_after(world: World) -> None:
    role_changed_in_admin(world)
    row = AuditEvent.objects.get(object_type="auth.user", changes__has_key="groups")
    assert row.changes["groups"] == [[], ["operator"]]


@pytest.mark.django_db
def test_secrets_are_never_stored(world: World) -> None:
    check_added_by_api(world)
    agent_key_in_admin(world)
    channel_deleted_in_admin(world)
    user_added_in_admin(world)
    stored = json.dumps(list(AuditEvent.objects.values("changes", "object_label")))
    for secret in ("s3cret", "pw-secret", "hunter2", "pbkdf2", *ApiKey.objects.values_list("hashed", flat=True)):
        assert secret not in stored
    check = AuditEvent.objects.get(object_type="checks.check")
    assert check.changes["password"] == [None, REDACTED]
    assert check.changes["target"] == [None, f"http://probe:{REDACTED}@127.0.0.1:9/"]
    assert AuditEvent.objects.get(object_type="auth.user", action="created").changes["password"] == [None, REDACTED]
    assert AuditEvent.objects.get(object_type="hosts.apikey").changes["hashed"] == [None, REDACTED]


@pytest.mark.django_db
def test_a_deleted_users_rows_keep_their_id_and_name(world: World) -> None:
    bob = User.objects.create_user("bob", password=PASSWORD)
    client = Client()
    client.force_login(bob)
    bob_id = bob.pk
    bob.delete()
    row = AuditEvent.objects.get(action="login")
    assert (row.actor_id, row.actor_name) == (bob_id, "bob")


def test_a_host_deleted_with_its_agent_key_records_both(world: World) -> None:
    # The key goes by cascade after its host: its label cannot name the host any more.
    key, _ = ApiKey.issue("agent", host=world.host)
    response = world.client.delete("/api/hosts/web-1")
    assert response.status_code == 204, response.content
    deleted = set(AuditEvent.objects.filter(action="deleted").values_list("object_type", "object_label"))
    assert ("hosts.host", "web-1") in deleted
    assert ("hosts.apikey", f"hosts.apikey {key.pk}") in deleted
