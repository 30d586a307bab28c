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


SECRETS = {"username": "monitor", "password": "pa55-word", "bearer_token": "tok-123456"}


def http_check(**fields: Any) -> Check:
    return make("site", kind="http", target="http://127.0.0.1:5000/health", **fields)


def test_an_admin_adds_a_check_with_credentials_and_headers(admin_client):
    response = admin_client.post("/add-check/", {**FORM, **SECRETS, "headers": "X-Probe: yes\nAccept: text/plain"})
    assert response.status_code == 302
    check = Check.objects.get(name="site")
    assert (check.username, check.password, check.bearer_token) == ("monitor", "pa55-word", "tok-123456")
    assert check.options["headers"] == {"X-Probe": "yes", "Accept": "text/plain"}


def test_the_edit_form_never_shows_a_stored_secret(admin_client):
    http_check(**SECRETS, options={"headers": {"X-Probe": "yes"}})
    html = admin_client.get("/checks/site/edit/").content.decode()
    assert "pa55-word" not in html and "tok-123456" not in html
    assert html.count("One is stored (never shown)") == 2
    assert 'value="monitor"' in html and "X-Probe: yes" in html


def test_a_refused_form_does_not_echo_the_typed_secret(admin_client):
    response = admin_client.post("/add-check/", {**FORM, **SECRETS, "target": "not a url"})
    assert response.status_code == 400 and "pa55-word" not in response.content.decode()


def test_blank_secrets_on_edit_keep_the_stored_ones(admin_client):
    http_check(**SECRETS)
    response = admin_client.post(
        "/checks/site/edit/", {**FORM, "username": "monitor", "target": "http://127.0.0.1:5001/"}
    )
    assert response.status_code == 302
    check = Check.objects.get(name="site")
    assert (check.target, check.password, check.bearer_token) == ("http://127.0.0.1:5001/", "pa55-word", "tok-123456")


def test_a_new_secret_on_edit_replaces_the_stored_one(admin_client):
    http_check(**SECRETS)
    admin_client.post("/checks/site/edit/", {**FORM, "username": "monitor", "bearer_token": "tok-new"})
    check = Check.objects.get(name="site")
    assert (check.password, check.bearer_token) == ("pa55-word", "tok-new")


def test_forget_clears_the_stored_secrets(admin_client):
    http_check(**SECRETS)
    response = admin_client.post("/checks/site/edit/", {**FORM, "username": "", "forget_secrets": "on"})
    assert response.status_code == 302
    check = Check.objects.get(name="site")
    assert (check.username, check.password, check.bearer_token) == ("", "", "")


def test_a_header_line_without_a_colon_is_a_400_on_the_headers_field(admin_client):
    response = admin_client.post("/add-check/", {**FORM, "headers": "X-Probe yes"})
    assert response.status_code == 400 and 'id="id_headers-error"' in response.content.decode()
    assert not Check.objects.exists()


def test_a_header_name_with_a_space_is_a_400_on_the_headers_field(admin_client):
    response = admin_client.post("/add-check/", {**FORM, "headers": "X Probe: yes"})
    assert response.status_code == 400 and 'id="id_headers-error"' in response.content.decode()
    assert not Check.objects.exists()


def test_headers_on_a_tcp_check_are_a_400(admin_client):
    response = admin_client.post("/add-check/", {**FORM, "kind": "tcp", "target": "db:5432", "headers": "A: b"})
    assert response.status_code == 400 and 'id="id_headers-error"' in response.content.decode()
    assert not Check.objects.exists()


def test_headers_in_both_places_are_a_400(admin_client):
    response = admin_client.post("/add-check/", {**FORM, "headers": "A: b", "options": '{"headers": {"C": "d"}}'})
    assert response.status_code == 400 and 'id="id_headers-error"' in response.content.decode()
    assert not Check.objects.exists()


def test_credentials_on_a_tcp_check_are_a_400_and_nothing_is_written(admin_client):
    make("db")
    response = admin_client.post(
        "/checks/db/edit/", {**FORM, "name": "db", "kind": "tcp", "target": "db2:5432", "bearer_token": "tok"}
    )
    assert response.status_code == 400 and 'id="id_bearer_token-error"' in response.content.decode()
    check = Check.objects.get(name="db")
    assert (check.target, check.bearer_token) == ("db.example:5432", "")


def test_a_password_too_long_is_a_400_on_the_password_field(admin_client):
    http_check(**SECRETS)
    response = admin_client.post("/checks/site/edit/", {**FORM, "username": "monitor", "password": "x" * 201})
    assert response.status_code == 400 and 'id="id_password-error"' in response.content.decode()
    assert Check.objects.get(name="site").password == "pa55-word"


def test_a_bad_header_in_the_options_json_is_refused_by_the_check(admin_client):
    response = admin_client.post("/add-check/", {**FORM, "options": '{"headers": {"X Probe": "a"}}'})
    assert response.status_code == 400 and 'id="id_options-error"' in response.content.decode()
    assert not Check.objects.exists()
