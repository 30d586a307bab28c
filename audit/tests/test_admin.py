"""The audit trail in the admin: listed, filtered, searched, and read-only for everyone, superusers too."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import AuditEvent


@pytest.fixture
def admin_client(db: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x" * 12))
    return client


@pytest.fixture
def events(db: Any) -> list[AuditEvent]:
    return [
        AuditEvent.objects.create(
            actor_name="ana", action="changed", object_type="hosts.host", object_label="web-1", changes={"x": [1, 2]}
        ),
        AuditEvent.objects.create(actor_name="bob", action="login-failed", address="192.0.2.7"),
    ]


def listed(client: Client, query: str) -> str:
    response = client.get(f"/admin/audit/auditevent/?{query}")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("action__exact=login-failed", "192.0.2.7", "web-1"),
        ("object_type=hosts.host", "web-1", "192.0.2.7"),
        ("actor=bob", "192.0.2.7", "web-1"),
        ("q=web-1", "web-1", "192.0.2.7"),
    ],
)
def test_the_list_filters_and_searches(admin_client: Client, events: Any, query: str, shown: str, hidden: str) -> None:
    page = listed(admin_client, query)
    assert shown in page and hidden not in page


@pytest.mark.django_db
def test_the_list_filters_by_date(admin_client: Client, events: Any) -> None:
    page = listed(admin_client, "at__gte=2000-01-01&at__lt=2000-01-02")
    assert "web-1" not in page
    assert "web-1" in listed(admin_client, "")


@pytest.mark.django_db
def test_an_event_shows_its_changes(admin_client: Client, events: list[AuditEvent]) -> None:
    page = admin_client.get(f"/admin/audit/auditevent/{events[0].pk}/change/").content.decode()
    assert "<td>1</td><td>2</td>" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/admin/audit/auditevent/add/", None),
        ("post", "/admin/audit/auditevent/add/", {"action": "login", "actor_name": "x"}),
        ("post", "/admin/audit/auditevent/{pk}/change/", {"action": "login", "actor_name": "x"}),
        ("post", "/admin/audit/auditevent/{pk}/delete/", {"post": "yes"}),
    ],
)
def test_no_one_may_add_change_or_delete(
    admin_client: Client, events: list[AuditEvent], method: str, path: str, data: Any
) -> None:
    response = getattr(admin_client, method)(path.format(pk=events[0].pk), data)
    assert response.status_code == 403
    assert AuditEvent.objects.count() == 2 + AuditEvent.objects.filter(action="login").count()
    assert AuditEvent.objects.get(pk=events[0].pk).actor_name == "ana"


@pytest.mark.django_db
def test_there_is_no_bulk_delete_action(admin_client: Client, events: list[AuditEvent]) -> None:
    admin_client.post("/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [events[0].pk]})
    assert AuditEvent.objects.filter(pk=events[0].pk).exists()
