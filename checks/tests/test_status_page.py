"""Public checks on the public status page: only those marked public, with uptime bars and a sparkline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from checks.models import Check, CheckRollup, CheckState, Outcome

pytestmark = pytest.mark.django_db
PAGES = ["/status/", "/status/summary.json", "/status/badge.json"]


@pytest.fixture(autouse=True)
def tiers(settings: Any) -> None:
    settings.ROLLUP_TIERS = [(900, 90 * 86400), (3600, 90 * 86400)]
    settings.STATUS_PAGE_CACHE_SECONDS = 0


def make(name: str, state: str = CheckState.OK, **fields: Any) -> Check:
    check = Check(name=name, kind="tcp", target="db.example:5432", retries=0, **fields)
    check.full_clean()
    check.save()
    check.record(Outcome(state, "secret-error-text", 12.0))
    return check


@pytest.mark.parametrize("url", PAGES)
def test_a_private_check_never_appears(client: Client, url: str) -> None:
    make("website", public=True)
    make("internal-billing", CheckState.CRITICAL)
    body = client.get(url).content.decode()
    assert "internal-billing" not in body and "secret-error-text" not in body


def test_a_public_check_is_a_component_with_its_state(client: Client) -> None:
    make("website", CheckState.CRITICAL, public=True)
    html = client.get("/status/").content.decode()
    assert "<h3>website</h3>" in html and "Outage" in html and "secret-error-text" not in html


def test_a_disabled_public_check_does_not_appear(client: Client) -> None:
    make("website", public=True, enabled=False)
    assert "website" not in client.get("/status/").content.decode()


def test_a_public_check_has_daily_uptime_bars_from_rollups(client: Client) -> None:
    check = make("website", public=True)
    yesterday = (timezone.now() - timedelta(days=1)).replace(hour=3, minute=0, second=0, microsecond=0)
    CheckRollup.objects.create(service_check=check, step=3600, bucket_start=yesterday, runs=60, up_runs=45)
    html = client.get("/status/").content.decode()
    assert f'title="{yesterday:%b %d}: 75.00% up"' in html
    summary = client.get("/status/summary.json").json()
    assert summary["components"] == [{"name": "website", "kind": "check", "status": "operational", "uptime90d": 75.0}]


def test_a_public_check_has_a_latency_sparkline(client: Client) -> None:
    check = make("website", public=True)
    start = (timezone.now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    for n, ms in enumerate([10.0, 30.0, 20.0]):
        CheckRollup.objects.create(
            service_check=check,
            step=900,
            bucket_start=start + timedelta(minutes=15 * n),
            runs=15,
            up_runs=15,
            latency_runs=15,
            latency_avg=ms,
        )
    html = client.get("/status/").content.decode()
    assert 'aria-label="Response time over the last 24 hours"' in html
    assert '<polyline points="1.0,18.3 80.0,1.0 159.0,9.7"' in html


def test_the_badge_covers_public_checks(client: Client) -> None:
    make("website", CheckState.CRITICAL, public=True)
    assert client.get("/status/badge.json").json()["color"] == "red"


def test_the_badge_ignores_private_checks(client: Client) -> None:
    make("website", public=True)
    make("internal-billing", CheckState.CRITICAL)
    assert client.get("/status/badge.json").json()["color"] == "brightgreen"


def incidents(client: Client) -> list[dict[str, Any]]:
    return client.get("/status/summary.json").json()["incidents"]


def at(minutes_ago: float) -> Any:
    return timezone.now() - timedelta(minutes=minutes_ago)


def watched(name: str, **fields: Any) -> Check:
    """A check that has been up for ten days."""
    check = Check(name=name, kind="tcp", target="db.example:5432", retries=0, **fields)
    check.full_clean()
    check.save()
    check.record(Outcome(CheckState.OK, "", 12.0), at=at(60 * 24 * 10))
    return check


def test_a_public_check_going_down_is_an_ongoing_incident(client: Client) -> None:
    check = watched("website", public=True)
    check.record(Outcome(CheckState.CRITICAL, "secret-error-text", None), at=at(5))
    [incident] = incidents(client)
    assert incident["title"] == "website is down" and incident["severity"] == "critical"
    assert incident["endedAt"] is None and incident["startedAt"].startswith(f"{check.since:%Y-%m-%dT%H:%M:%S}")
    html = client.get("/status/").content.decode()
    assert "website is down" in html and "ongoing since" in html and "secret-error-text" not in html


def test_a_recovered_check_shows_its_down_period_with_start_and_end(client: Client) -> None:
    check = watched("website", public=True)
    check.record(Outcome(CheckState.CRITICAL, "refused", None), at=at(30))
    check.record(Outcome(CheckState.OK, "", 12.0), at=at(18))
    [incident] = incidents(client)
    assert incident["title"] == "website was down"
    assert incident["startedAt"] is not None and incident["endedAt"] is not None
    assert incident["message"] == "Resolved after 12 min."
    assert "resolved" in client.get("/status/").content.decode()


def test_a_failure_within_the_retries_is_no_incident(client: Client) -> None:
    check = watched("website", public=True)
    Check.objects.filter(pk=check.pk).update(retries=1)
    check.refresh_from_db()
    check.record(Outcome(CheckState.CRITICAL, "refused", None), at=at(1))
    assert incidents(client) == []


def test_a_private_checks_down_period_is_no_incident(client: Client) -> None:
    check = watched("internal-billing")
    check.record(Outcome(CheckState.CRITICAL, "refused", None), at=at(5))
    assert incidents(client) == []


def test_a_warning_is_a_degraded_incident(client: Client) -> None:
    check = watched("cert", public=True)
    check.record(Outcome(CheckState.WARNING, "expires in 9 days", None), at=at(5))
    [incident] = incidents(client)
    assert (incident["title"], incident["severity"]) == ("cert is degraded", "warning")


def test_warning_then_critical_is_one_incident_at_its_worst(client: Client) -> None:
    check = watched("cert", public=True)
    check.record(Outcome(CheckState.WARNING, "", None), at=at(9))
    check.record(Outcome(CheckState.CRITICAL, "", None), at=at(5))
    [incident] = incidents(client)
    assert (incident["title"], incident["severity"]) == ("cert is down", "critical")


def test_a_down_period_over_before_the_window_is_not_listed(client: Client) -> None:
    check = watched("website", public=True)
    check.record(Outcome(CheckState.CRITICAL, "", None), at=at(60 * 24 * 8 + 10))
    check.record(Outcome(CheckState.OK, "", 1.0), at=at(60 * 24 * 8))
    assert incidents(client) == []


def test_an_outage_begun_before_the_window_and_still_on_is_listed_as_ongoing(client: Client) -> None:
    check = watched("website", public=True)
    check.record(Outcome(CheckState.CRITICAL, "", None), at=at(60 * 24 * 8))
    [incident] = incidents(client)
    assert (incident["title"], incident["startedAt"], incident["endedAt"]) == ("website is down", None, None)


def test_an_outage_begun_before_the_window_and_ended_in_it_is_listed_as_resolved(client: Client) -> None:
    check = watched("website", public=True)
    check.record(Outcome(CheckState.CRITICAL, "", None), at=at(60 * 24 * 8))
    check.record(Outcome(CheckState.OK, "", 1.0), at=at(60))
    [incident] = incidents(client)
    assert (incident["title"], incident["startedAt"], incident["message"]) == ("website was down", None, "Resolved.")


def test_ongoing_incidents_come_before_resolved_ones(client: Client) -> None:
    old = watched("api", public=True)
    old.record(Outcome(CheckState.CRITICAL, "", None), at=at(50))
    old.record(Outcome(CheckState.OK, "", 1.0), at=at(40))
    watched("website", public=True).record(Outcome(CheckState.CRITICAL, "", None), at=at(100))
    assert [i["title"] for i in incidents(client)] == ["website is down", "api was down"]
