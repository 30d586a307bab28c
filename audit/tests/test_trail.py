"""record() and track(): no actor, no row; only tracked fields; values redacted; the system's changes unseen."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from audit.context import _request
from audit.models import AuditEvent
from audit.trail import REDACTED, plain, record
from hosts.models import Host


@pytest.mark.django_db
def test_no_actor_no_row() -> None:
    assert record(None, "changed", Host.objects.create(name="a")) is None
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_changes_made_by_the_system_are_not_recorded() -> None:
    host = Host.objects.create(name="a")
    host.display_name = "A"
    host.save()
    host.delete()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_request_by_no_one_records_nothing(db: Any) -> None:
    token = _request.set(RequestFactory().get("/"))
    try:
        Host.objects.create(name="a")
    finally:
        _request.reset(token)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_change_to_untracked_fields_only_is_not_a_row(db: Any) -> None:
    request = RequestFactory().post("/")
    request.user = User.objects.create_user("ana")
    host = Host.objects.create(name="a")
    token = _request.set(request)
    try:
        host.os = "Debian 12"  # what an agent reports, not a person's setting
        host.save()
        host.description = "the web server"
        host.save()
    finally:
        _request.reset(token)
    assert list(AuditEvent.objects.values_list("action", "changes")) == [
        ("changed", {"description": ["", "the web server"]})
    ]


@pytest.mark.django_db
def test_the_context_ends_with_the_request(client: Client) -> None:
    client.force_login(User.objects.create_user("ana"))
    client.get("/")
    Host.objects.create(name="after")  # after the request: no actor
    assert not AuditEvent.objects.filter(object_type="hosts.host").exists()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("https://bob:pa55@example.com/x", f"https://bob:{REDACTED}@example.com/x"),
        ("ntfys://:tok@ntfy.example/t", f"ntfys://:{REDACTED}@ntfy.example/t"),
        ("https://example.com/a@b", "https://example.com/a@b"),
        ("plain text", "plain text"),
        ({"headers": ["https://u:p@h/"]}, {"headers": [f"https://u:{REDACTED}@h/"]}),
    ],
)
def test_passwords_in_urls_are_masked(value: Any, shown: Any) -> None:
    assert plain(value) == shown


@pytest.mark.django_db
def test_ingest_records_nothing_and_reads_no_session(client: Client, agent_key: str, make_report: Any) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/metrics/report",
            make_report(),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {agent_key}",
        )
    assert response.status_code == 202, response.content
    assert not AuditEvent.objects.exists()
    assert not [q for q in queries.captured_queries if "audit" in q["sql"] or "django_session" in q["sql"]]
