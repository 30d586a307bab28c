"""/api/alertmanager/api/v2: Alertmanager's read API over our alerts, held to Alertmanager's own spec
(a copy recorded from Debian's golang-github-prometheus-alertmanager-dev 0.25.0, restapi/embedded_spec.go)
and read by the real `amtool`."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.utils import timezone

from alerts.alertmanager import BadMatcher, parse_matcher
from alerts.models import Alert, NotificationChannel, Silence
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.api_actors import CALLERS, READERS, expected_refusal, make_actors
from statusdash.tests.skips import require_tool

SPEC = json.loads((Path(__file__).parent / "alertmanager_v2_openapi.json").read_text())
BASE = "/api/alertmanager/api/v2"


def check_against_spec(answer: Any, definition: str) -> None:
    """Validate against the spec's definition (Swagger 2.0 refs are JSON Schema draft 4 refs)."""
    schema = {"$ref": f"#/definitions/{definition}", "definitions": SPEC["definitions"]}
    jsonschema.validate(answer, schema, cls=jsonschema.Draft4Validator, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def actors(db):
    return make_actors()


@pytest.fixture
def firing(db):
    web = Host.objects.create(name="web-1", tags=["prod"])
    disk = Alert.objects.fire("disk-full", host=web, subject="/var", severity="critical", message="96 %", value=96.5)
    service = Alert.objects.fire("health-billing", service="billing", subject="billing", severity="warning")
    resolved = Alert.objects.fire("cpu-high", host=web)
    Alert.objects.resolve("cpu-high", host=web)
    return {"disk": disk, "service": service, "resolved": resolved, "web": web}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", ["/alerts", "/alerts/groups", "/silences", "/status", "/receivers"])
def test_reading_takes_read_rights(client, actors, caller, path):
    response = actors.call(client, caller, "get", BASE + path)
    assert response.status_code == (200 if caller in READERS else expected_refusal(caller))


def test_alerts_match_the_gettable_alerts_schema(client, actors, firing):
    answer = actors.call(client, "read_key", "get", f"{BASE}/alerts").json()
    check_against_spec(answer, "gettableAlerts")
    assert {a["labels"]["alertname"] for a in answer} == {"disk-full", "health-billing"}  # resolved ones are gone


def test_an_alert_as_alertmanager_labels_it(client, actors, firing):
    NotificationChannel.objects.create(name="ops", url="json://127.0.0.1:9/", min_severity="critical")
    answer = actors.call(client, "read_key", "get", f"{BASE}/alerts?filter=alertname%3D%22disk-full%22").json()
    (alert,) = answer
    assert alert["labels"] == {"alertname": "disk-full", "severity": "critical", "host": "web-1", "subject": "/var"}
    assert alert["annotations"]["description"] == "96 %" and alert["annotations"]["value"] == "96.5"
    assert alert["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
    assert alert["receivers"] == [{"name": "ops"}]
    assert len(alert["fingerprint"]) == 16


def test_a_silenced_alert_is_suppressed_and_names_its_silence(client, actors, firing):
    silence = Silence.objects.create(ends_at=timezone.now() + timedelta(hours=1), reason="deploy")
    silence.hosts.add(firing["web"])
    answer = actors.call(client, "read_key", "get", f"{BASE}/alerts?filter=host%3Dweb-1").json()
    assert answer[0]["status"] == {"state": "suppressed", "silencedBy": [str(silence.pk)], "inhibitedBy": []}
    hidden = actors.call(client, "read_key", "get", f"{BASE}/alerts?silenced=false").json()
    assert [a["labels"]["alertname"] for a in hidden] == ["health-billing"]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ('filter=severity="critical"', {"disk-full"}),
        ("filter=alertname=~%22.*billing%22", {"health-billing"}),
        ("filter=host!=%22web-1%22", {"health-billing"}),
        ("filter=service=billing&filter=severity=warning", {"health-billing"}),
        ("active=false", set()),
    ],
)
def test_filters_as_amtool_sends_them(client, actors, firing, query, names):
    answer = actors.call(client, "read_key", "get", f"{BASE}/alerts?{query}").json()
    assert {a["labels"]["alertname"] for a in answer} == names


@pytest.mark.parametrize("text", ["alertname", "=x", 'host=~"("', "9x=y"])
def test_a_bad_matcher_is_a_422_naming_the_filter(client, actors, text):
    with pytest.raises(BadMatcher):
        parse_matcher(text)
    response = actors.call(client, "read_key", "get", f"{BASE}/alerts", None, QUERY_STRING=f"filter={text}")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][:2] == ["query", "filter"]


def test_a_quoted_value_may_escape_its_quote():
    assert parse_matcher('summary="say \\"hi\\""')["value"] == 'say "hi"'
    assert parse_matcher("path=\\x")["value"] == "\\x"


def test_groups_match_the_alert_groups_schema(client, actors, firing):
    answer = actors.call(client, "read_key", "get", f"{BASE}/alerts/groups").json()
    check_against_spec(answer, "alertGroups")
    assert [g["labels"]["alertname"] for g in answer] == ["disk-full", "health-billing"]


def test_silences_match_the_gettable_silences_schema(client, actors, firing):
    now = timezone.now()
    by_host = Silence.objects.create(ends_at=now + timedelta(hours=1), reason="deploy", rules=["disk-full"])
    by_host.hosts.add(firing["web"])
    Silence.objects.create(ends_at=now + timedelta(hours=1), reason="billing", services=["billing"])
    Silence.objects.create(starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1), reason="old", hub=True)
    answer = actors.call(client, "read_key", "get", f"{BASE}/silences").json()
    check_against_spec(answer, "gettableSilences")
    shown = {s["comment"]: s for s in answer}
    assert shown["deploy"]["matchers"] == [
        {"name": "host", "value": "web-1", "isRegex": False, "isEqual": True},
        {"name": "alertname", "value": "disk-full", "isRegex": False, "isEqual": True},
    ]
    assert shown["old"]["status"] == {"state": "expired"} and shown["deploy"]["status"] == {"state": "active"}


def test_status_matches_the_schema(client, actors):
    check_against_spec(actors.call(client, "read_key", "get", f"{BASE}/status").json(), "alertmanagerStatus")


def test_receivers_match_the_schema(client, actors):
    NotificationChannel.objects.create(name="ops", url="json://127.0.0.1:9/")
    answer = actors.call(client, "read_key", "get", f"{BASE}/receivers").json()
    jsonschema.validate(
        answer, {"type": "array", "items": {"$ref": "#/definitions/receiver"}, "definitions": SPEC["definitions"]}
    )
    assert answer == [{"name": "ops"}]


def amtool(url: str, config: Path, *args: str) -> Any:
    command = [require_tool("amtool", "prometheus-alertmanager"), f"--alertmanager.url={url}/api/alertmanager"]
    command += [f"--http.config.file={config}", *args, "-o", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.needs_tool("amtool", "prometheus-alertmanager")
def test_the_real_amtool_reads_alerts_and_silences(live_hub, tmp_path):
    web = Host.objects.create(name="web-1")
    Alert.objects.fire("disk-full", host=web, subject="/var", severity="critical")
    Alert.objects.fire("health-billing", service="billing", severity="warning")
    silence = Silence.objects.create(ends_at=timezone.now() + timedelta(hours=1), reason="deploy")
    silence.hosts.add(web)
    _, raw = ApiKey.issue(ApiKeyScope.READ, label="amtool")
    config = tmp_path / "http.yml"
    config.write_text(f"authorization:\n  type: Bearer\n  credentials: {raw}\n")

    everything = amtool(live_hub, config, "alert", "query", "--active", "--silenced")
    assert {a["labels"]["alertname"] for a in everything} == {"disk-full", "health-billing"}
    # By default amtool shows active alerts only: the silenced one is left out.
    assert [a["labels"]["alertname"] for a in amtool(live_hub, config, "alert", "query")] == ["health-billing"]
    critical = amtool(live_hub, config, "alert", "query", "severity=critical", "--silenced")
    assert [(a["labels"]["host"], a["status"]["state"]) for a in critical] == [("web-1", "suppressed")]
    silences = amtool(live_hub, config, "silence", "query")
    assert [(s["comment"], s["matchers"][0]["value"]) for s in silences] == [("deploy", "web-1")]


@pytest.mark.needs_tool("amtool", "prometheus-alertmanager")
def test_amtool_without_credentials_is_refused(live_hub, tmp_path):
    command = [require_tool("amtool", "prometheus-alertmanager"), f"--alertmanager.url={live_hub}/api/alertmanager"]
    done = subprocess.run([*command, "alert", "query"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "401" in done.stderr + done.stdout
