"""statusdash/lib/prepared.py: the cursor whose statements PostgreSQL prepares, and only it."""

from __future__ import annotations

import pytest
from django.db import connection

from hosts.models import Host
from statusdash.lib.prepared import prepared_cursor
from statusdash.tests.skips import postgres_only

pytestmark = [postgres_only, pytest.mark.django_db]


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_sent_again_and_again_through_it_is_prepared_once(host: Host) -> None:
    def run() -> list[str]:
        with prepared_cursor() as cursor:
            cursor.execute("SELECT name FROM hosts_host WHERE id = %s", [host.pk])
            assert cursor.fetchone() == ("web-1",)
        return [s for s in prepared_statements() if s.startswith("SELECT name FROM hosts_host")]

    assert run() == []  # the first times as text (prepare_threshold in settings.py)
    for _ in range(10):
        prepared = run()
    assert prepared == ["SELECT name FROM hosts_host WHERE id = $1"]


def test_djangos_own_cursors_are_never_prepared(host: Host) -> None:
    for _ in range(10):
        assert Host.objects.filter(pk=host.pk).values_list("name", flat=True).get() == "web-1"
    assert not [s for s in prepared_statements() if "hosts_host" in s]
