"""/metrics carries each enabled check's state and latency, labelled by name, and Prometheus accepts it."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from checks.models import Check, CheckState, Outcome
from statusdash.tests.skips import require_tool

pytestmark = pytest.mark.django_db


def make(name: str, state: str, latency: float | None, **fields: Any) -> Check:
    check = Check(name=name, kind="tcp", target="db.example:5432", retries=0, **fields)
    check.full_clean()
    check.save()
    check.record(Outcome(state, 'a "quoted"\nmessage', latency))
    return check


def scrape(client: Client, key: str) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    return response.content.decode()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_each_checks_state_is_one_for_its_state(client: Client, read_key: str) -> None:
    make("db", CheckState.CRITICAL, None)
    states = samples(scrape(client, read_key), "statusdash_check_state")
    assert states[(("check", "db"), ("state", "critical"))] == 1.0
    assert states[(("check", "db"), ("state", "ok"))] == 0.0
    assert len(states) == 4


def test_latency_is_in_seconds(client: Client, read_key: str) -> None:
    make("web.front-1", CheckState.OK, 250.0)
    latency = samples(scrape(client, read_key), "statusdash_check_latency_seconds")
    assert latency == {(("check", "web.front-1"),): 0.25}


def test_disabled_checks_are_left_out(client: Client, read_key: str) -> None:
    make("old", CheckState.OK, 1.0, enabled=False)
    assert samples(scrape(client, read_key), "statusdash_check_state") == {}


def test_the_exposition_with_checks_passes_promtool(client: Client, read_key: str) -> None:
    promtool = require_tool("promtool", "prometheus")
    make("db", CheckState.OK, 12.0)
    make("api_v2", CheckState.WARNING, None)
    text = scrape(client, read_key)
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert "statusdash_check_state" in text
