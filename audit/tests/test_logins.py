"""Log-ins and failed log-ins are rows: the form's, the admin's and POST /api/auth/token's, with the real client's address."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import AuditEvent

PASSWORD = "correct horse battery"


@pytest.fixture
def ana(db: Any) -> User:
    return User.objects.create_user("ana", password=PASSWORD)


@pytest.mark.django_db
def test_a_log_in_on_the_form_is_recorded(client: Client, ana: User) -> None:
    assert client.post("/login/", {"username": "ana", "password": PASSWORD}).status_code == 302
    row = AuditEvent.objects.get(action="login")
    assert (row.actor_id, row.actor_name, row.address) == (ana.pk, "ana", "127.0.0.1")
    assert (row.object_type, row.object_id) == ("auth.user", str(ana.pk))


@pytest.mark.django_db
def test_a_log_in_does_not_also_record_a_change_of_last_login(client: Client, ana: User) -> None:
    client.post("/login/", {"username": "ana", "password": PASSWORD})
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["login"]


@pytest.mark.django_db
def test_a_failed_log_in_is_recorded_with_the_name_and_address(client: Client, ana: User) -> None:
    assert client.post("/login/", {"username": "ana", "password": "wrong"}, REMOTE_ADDR="192.0.2.7").status_code == 200
    row = AuditEvent.objects.get(action="login-failed")
    assert (row.actor_id, row.actor_name, row.address) == (None, "ana", "192.0.2.7")
    assert "wrong" not in json.dumps(row.changes)


@pytest.mark.django_db
def test_a_failed_log_in_behind_a_trusted_proxy_has_the_clients_address(
    client: Client, ana: User, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client.post(
        "/login/",
        {"username": "ana", "password": "wrong"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert AuditEvent.objects.get(action="login-failed").address == "198.51.100.20"


@pytest.mark.django_db
def test_an_untrusted_peer_cannot_choose_its_recorded_address(client: Client, ana: User) -> None:
    client.post(
        "/login/", {"username": "ana", "password": "wrong"}, REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="1.2.3.4"
    )
    assert AuditEvent.objects.get(action="login-failed").address == "192.0.2.9"


@pytest.mark.django_db
def test_a_failed_log_in_for_an_unknown_user_is_recorded(client: Client, db: Any) -> None:
    client.post("/admin/login/", {"username": "mallory", "password": "guess"})
    row = AuditEvent.objects.get(action="login-failed")
    assert (row.actor_id, row.actor_name) == (None, "mallory")


@pytest.mark.django_db
def test_a_token_from_the_api_is_a_log_in(client: Client, ana: User) -> None:
    body = json.dumps({"username": "ana", "password": PASSWORD})
    assert client.post("/api/auth/token", body, content_type="application/json").status_code == 200
    row = AuditEvent.objects.get(action="login")
    assert (row.actor_id, row.address) == (ana.pk, "127.0.0.1")


@pytest.mark.django_db
def test_a_wrong_password_at_the_api_is_a_failed_log_in(client: Client, ana: User) -> None:
    body = json.dumps({"username": "ana", "password": "nope"})
    assert client.post("/api/auth/token", body, content_type="application/json").status_code == 401
    assert AuditEvent.objects.get(action="login-failed").actor_name == "ana"


@pytest.mark.django_db
def test_logging_out_is_recorded(client: Client, ana: User) -> None:
    client.force_login(ana)
    client.post("/logout/")
    assert AuditEvent.objects.filter(action="logout", actor_id=ana.pk).count() == 1
