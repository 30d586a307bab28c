"""The public status page /status/ and its JSON versions: what shows, what never does, caching."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from alerts.models import Alert
from hosts.models import Host
from services.models import DailyAvailability, DomainEvent, EventType, PublicHost, ServiceEvent, ServiceHealth

PAGES = ["/status/", "/status/summary.json", "/status/badge.json"]


def report_health(name: str, status: str = "healthy", **extra: Any) -> ServiceHealth:
    kind = EventType.SERVICE_HEALTHY if status == "healthy" else EventType.SERVICE_UNHEALTHY
    event = DomainEvent(type=kind, service_name=name, occurred_at=timezone.now(), **extra)
    ServiceEvent.objects.record([event], via="http")
    return ServiceHealth.objects.get(name=name)


def make_public(service: ServiceHealth, **fields: Any) -> ServiceHealth:
    ServiceHealth.objects.filter(pk=service.pk).update(public=True, **fields)
    return service


@pytest.fixture
def public_host(db: Any) -> Host:
    host = Host.objects.create(
        name="edge-1",
        last_seen=timezone.now(),
        reported_hostname="edge-1.internal.example",
        os="Debian GNU/Linux 12 (bookworm)",
    )
    PublicHost.objects.create(host=host, display_name="Edge network")
    return host


@pytest.fixture
def private_host(db: Any) -> Host:
    return Host.objects.create(name="secret-db-7", display_name="Secret Billing DB", last_seen=timezone.now())


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_private_host_never_appears(client: Client, public_host: Host, private_host: Host, url: str) -> None:
    Alert.objects.fire("cpu", host=private_host, message="secret-db-7 cpu at 99%")
    body = client.get(url).content.decode()
    assert "secret-db-7" not in body
    assert "Secret Billing DB" not in body


@pytest.mark.django_db
def test_private_service_never_appears(client: Client) -> None:
    report_health("internal-payroll", "unhealthy", error_message="payroll db down")
    body = client.get("/status/").content.decode()
    assert "internal-payroll" not in body and "payroll db down" not in body
    assert "No component has been made public yet" in body


@pytest.mark.django_db
def test_public_components_show_without_login(client: Client, public_host: Host) -> None:
    make_public(report_health("seo"), display_name="Search optimisation")
    response = client.get("/status/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Edge network" in body and "Search optimisation" in body
    assert "All systems operational" in body
    spans = [int(n) for n in re.findall(r'style="flex-grow:(\d+)"', body)]
    assert sum(spans) == 2 * 90  # ninety days each, quiet days merged into one bar


@pytest.mark.django_db
def test_host_details_are_never_shown(client: Client, public_host: Host) -> None:
    body = client.get("/status/").content.decode()
    assert "edge-1" not in body  # the public name replaces the host name
    assert "internal.example" not in body and "Debian" not in body


@pytest.mark.django_db
def test_metrics_are_never_shown(client: Client) -> None:
    make_public(report_health("seo", metrics={"secretQueueDepth": 4242}))
    body = client.get("/status/").content.decode() + client.get("/status/summary.json").content.decode()
    assert "secretQueueDepth" not in body and "4242" not in body


@pytest.mark.django_db
def test_incident_hides_error_text_by_default(client: Client) -> None:
    make_public(report_health("seo", "unhealthy", error_message="password rejected for 10.0.0.5"))
    body = client.get("/status/").content.decode()
    assert "seo is unhealthy" in body
    assert "10.0.0.5" not in body and "password rejected" not in body
    assert "Service outage" in body


@pytest.mark.django_db
def test_incident_shows_error_text_when_marked_public(client: Client) -> None:
    make_public(report_health("seo", "unhealthy", error_message="upstream API returns 503"), public_errors=True)
    assert "upstream API returns 503" in client.get("/status/").content.decode()


@pytest.mark.django_db
def test_host_alert_message_only_when_allowed(client: Client, public_host: Host) -> None:
    Alert.objects.fire("disk", host=public_host, message="/var at 97%")
    assert "/var at 97%" not in client.get("/status/").content.decode()
    PublicHost.objects.filter(host=public_host).update(show_alert_messages=True)
    with override_settings(STATUS_PAGE_CACHE_SECONDS=0):
        body = client.get("/status/").content.decode()
    assert "Edge network: disk alert" in body and "/var at 97%" in body


@pytest.mark.django_db
def test_overall_counts_public_components_only(client: Client, public_host: Host) -> None:
    report_health("private-batch", "unhealthy")
    assert client.get("/status/summary.json").json()["status"] == "healthy"


@pytest.mark.django_db
def test_uptime_bars_come_from_the_daily_table(client: Client) -> None:
    service = make_public(report_health("seo"))
    yesterday = timezone.now().date() - timedelta(days=1)
    DailyAvailability.objects.create(service=service, day=yesterday, observed_seconds=86400, up_seconds=86400 * 0.9)
    body = client.get("/status/").content.decode()
    assert f"{yesterday:%b %d}: 90.00% up" in body
    assert body.count('class="u-bad"') == 1
    assert body.count('class="u-none"') == 2  # no data before, and today not rolled up yet
    summary = client.get("/status/summary.json").json()
    assert summary["components"] == [{"name": "seo", "kind": "service", "status": "operational", "uptime90d": 90.0}]


@pytest.mark.django_db
def test_page_is_cacheable_and_served_from_the_server_cache(
    client: Client, public_host: Host, django_assert_num_queries: Any
) -> None:
    first = client.get("/status/")
    assert "public" in first["Cache-Control"] and "max-age=30" in first["Cache-Control"]
    with django_assert_num_queries(0):
        second = client.get("/status/")
    assert second.content == first.content


@pytest.mark.django_db
@override_settings(STATUS_PAGE_CACHE_SECONDS=0)
def test_caching_can_be_turned_off(client: Client) -> None:
    assert "no-cache" in client.get("/status/")["Cache-Control"]


@pytest.mark.django_db
def test_badge_is_a_shields_endpoint(client: Client) -> None:
    make_public(report_health("seo", "unhealthy"))
    assert client.get("/status/badge.json").json() == {
        "schemaVersion": 1,
        "label": "status",
        "message": "service outage",
        "color": "red",
    }


@pytest.mark.django_db
def test_page_is_read_only(client: Client) -> None:
    assert client.post("/status/").status_code == 405


@pytest.mark.django_db
def test_quiet_days_merge_into_one_bar(client: Client) -> None:
    service = make_public(report_health("seo"))
    today = timezone.now().date()
    for n in (1, 2, 3):
        DailyAvailability.objects.create(
            service=service, day=today - timedelta(days=n), observed_seconds=86400, up_seconds=86400
        )
    body = client.get("/status/").content.decode()
    first, last = today - timedelta(days=3), today - timedelta(days=1)
    assert f'style="flex-grow:3" title="{first:%b %d} - {last:%b %d}: 99.9% up or better"' in body


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_page_in_a_real_browser(live_hub: str) -> None:
    from playwright.sync_api import sync_playwright

    make_public(report_health("seo", "unhealthy", error_message="secret stack trace"), display_name="Search")
    Host.objects.create(name="secret-db-7", last_seen=timezone.now())
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    args += ["--disable-sync", "--no-first-run"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
        try:
            page = browser.new_page()
            response = page.goto(f"{live_hub}/status/")
            assert response is not None and response.status == 200
            assert page.locator("#overall").inner_text() == "Service outage"
            assert page.locator("#components h3").all_inner_texts() == ["Search"]
            assert page.locator("#incidents").inner_text().count("Search is unhealthy") == 1
            bars = page.locator("#components .bars i")
            assert bars.count() >= 1 and bars.first.bounding_box()["width"] > 0  # type: ignore[index]
            html = page.content()
            assert "secret-db-7" not in html and "secret stack trace" not in html
        finally:
            browser.close()
