"""The checks pages: the list and its filters, a check's page, and the admins' add and edit form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checks.models import Check, CheckRollup, CheckState, Outcome

pytestmark = pytest.mark.django_db


def make(name: str, **fields: Any) -> Check:
    check = Check(name=name, kind=fields.pop("kind", "tcp"), target=fields.pop("target", "db.example:5432"), **fields)
    check.full_clean()
    check.save()
    return check


def run(check: Check, *states: str, latency: float = 12.0, message: str = "") -> None:
    for state in states:
        check.record(Outcome(state, message, latency))


def test_list_shows_state_last_latency_uptime_and_last_error(viewer_client):
    check = make("db")
    run(check, CheckState.OK, CheckState.OK, CheckState.CRITICAL, CheckState.CRITICAL, latency=40, message="refused")
    run(check, CheckState.WARNING, CheckState.UNKNOWN, latency=41, message="odd answer")
    html = viewer_client.get("/checks/").content.decode()
    # 6 runs: ok, ok, warning up (3), two critical and one unknown down: 50.00 %.
    assert f'id="check-{check.pk}"' in html and "50.00%" in html
    assert "41 ms" in html and "odd answer" in html and "badge-unknown" in html


def test_list_filters_by_state(viewer_client):
    run(make("good"), CheckState.OK)
    bad = make("bad", retries=0)
    run(bad, CheckState.CRITICAL)
    html = viewer_client.get("/checks/?state=critical").content.decode()
    assert ">bad</a>" in html and ">good</a>" not in html


def test_list_filters_by_tag(viewer_client):
    make("db", tags=["prod"])
    make("cache", tags=["staging"])
    html = viewer_client.get("/checks/?tag=prod").content.decode()
    assert ">db</a>" in html and ">cache</a>" not in html


def test_a_bad_state_filter_is_a_400_naming_the_field(viewer_client):
    response = viewer_client.get("/checks/?state=purple")
    assert response.status_code == 400
    assert "state" in response.content.decode() and "purple" in response.content.decode()


def test_an_htmx_request_gets_the_rows_alone(viewer_client):
    make("db")
    html = viewer_client.get("/checks/", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<table class="checks-table" id="check-rows">')


def test_the_top_bar_links_to_checks(viewer_client):
    assert '<a href="/checks/"' in viewer_client.get("/").content.decode()


def test_the_list_needs_a_login(client):
    assert client.get("/checks/").status_code == 302


def list_queries(client: Any, count: int) -> int:
    Check.objects.bulk_create([Check(name=f"c{i:04d}", kind="tcp", target="db.example:5432") for i in range(count)])
    first = Check.objects.order_by("pk").first()
    assert first is not None
    run(first, CheckState.OK)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/checks/").status_code == 200
    Check.objects.all().delete()
    return len(queries)


def test_the_list_reads_as_many_queries_for_500_checks_as_for_10(viewer_client):
    assert list_queries(viewer_client, 10) == list_queries(viewer_client, 500)


def test_a_check_page_shows_recent_failures_with_their_messages(viewer_client):
    check = make("db", retries=0)
    run(check, CheckState.CRITICAL, message="connection refused")
    run(check, CheckState.OK)
    html = viewer_client.get("/checks/db/").content.decode()
    assert "connection refused" in html and "<polyline" in html and 'ws-connect="/ws/checks/db/"' in html


def test_a_check_page_over_90_days_reads_rollups_and_shows_uptime_per_day(viewer_client, settings):
    settings.ROLLUP_TIERS = [(900, 90 * 86400), (3600, 90 * 86400)]
    check = make("db")
    day = (timezone.now() - timedelta(days=3)).replace(hour=5, minute=0, second=0, microsecond=0)
    CheckRollup.objects.create(
        service_check=check, step=3600, bucket_start=day, runs=60, up_runs=45, latency_runs=60, latency_avg=9.0
    )
    html = viewer_client.get("/checks/db/?range=90d").content.decode()
    assert "from rollups" in html and "<polyline" in html
    assert f'<td>{day:%Y-%m-%d}</td><td class="num">60</td><td class="num">75.00%</td>' in html


def test_a_bad_range_is_a_400_naming_the_field(viewer_client):
    make("db")
    response = viewer_client.get("/checks/db/?range=1y")
    assert response.status_code == 400 and "range" in response.content.decode()


def test_an_unknown_check_is_a_404(viewer_client):
    assert viewer_client.get("/checks/nope/").status_code == 404


def test_a_viewer_sees_no_edit_controls(viewer_client):
    make("db")
    assert "Add a check" not in viewer_client.get("/checks/").content.decode()
    assert "/edit/" not in viewer_client.get("/checks/db/").content.decode()


def test_a_viewer_cannot_add_or_edit(viewer_client):
    make("db")
    form = {"name": "web", "kind": "tcp", "target": "web.example:80", "interval": 60, "timeout": 5, "retries": 1}
    assert viewer_client.post("/add-check/", {**form, "runs_on": "hub"}).status_code == 403
    assert viewer_client.post("/checks/db/edit/", {**form, "runs_on": "hub"}).status_code == 403
    assert list(Check.objects.values_list("name", flat=True)) == ["db"]


FORM = {
    "name": "site",
    "kind": "http",
    "target": "http://127.0.0.1:5000/health",
    "interval": "60",
    "timeout": "5",
    "retries": "1",
    "runs_on": "hub",
    "tags": "web, prod",
    "options": "",
    "enabled": "on",
    "public": "on",
}


def test_an_admin_adds_a_check(admin_client):
    response = admin_client.post("/add-check/", FORM)
    assert response.status_code == 302 and response["Location"] == "/checks/site/"
    check = Check.objects.get(name="site")
    assert (check.kind, check.tags, check.public, check.enabled) == ("http", ["web", "prod"], True, True)


def test_an_admin_sees_the_edit_controls(admin_client):
    make("db")
    assert "Add a check" in admin_client.get("/checks/").content.decode()
    assert "/checks/db/edit/" in admin_client.get("/checks/db/").content.decode()


def test_an_admin_edits_a_check(admin_client):
    make("db")
    response = admin_client.post(
        "/checks/db/edit/", {**FORM, "name": "db", "kind": "tcp", "target": "db2.example:5432"}
    )
    assert response.status_code == 302
    assert Check.objects.get(name="db").target == "db2.example:5432"


def test_the_checks_own_validation_errors_show_by_field(admin_client):
    response = admin_client.post("/add-check/", {**FORM, "interval": "5", "target": "not a url"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_interval-error"' in html and 'id="id_target-error"' in html
    assert not Check.objects.exists()


def test_bad_options_json_is_a_400_on_the_options_field(admin_client):
    response = admin_client.post("/add-check/", {**FORM, "options": "{nope"})
    assert response.status_code == 400 and 'id="id_options-error"' in response.content.decode()
