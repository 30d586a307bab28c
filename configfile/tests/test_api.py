from __future__ import annotations

import gzip

import jsonschema
import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.roles import ADMIN, OPERATOR, VIEWER, set_role
from alerts.models import AlertRule, AuditEntry, Silence
from configfile.exporting import export
from configfile.tests.conftest import SECRET_ENV
from hosts.auth import issue_token
from hosts.models import Host

NEW_HOST = "hosts:\n  - name: web-9\n    tags: [prod]\n"


def bearer(role: str) -> dict[str, str]:
    user = User.objects.create_user(f"user-{role}", password="pw-12345678")
    set_role(user, role)
    token, _ = issue_token(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post(client: Client, text: str, query: str = "", **headers: str):
    return client.post(f"/api/config/apply{query}", text, content_type="application/yaml", **headers)


def test_the_schema_is_public_and_is_a_json_schema(db, client):
    response = client.get("/api/config/schema.json")
    assert response.status_code == 200
    schema = response.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == {"version", "hosts", "rules", "channels", "checks", "silences"}


@pytest.mark.parametrize(
    ("who", "status"), [("none", 401), ("read", 403), (VIEWER, 403), (OPERATOR, 403), (ADMIN, 200)]
)
def test_only_an_admin_may_apply(db, client, read_key, who, status):
    headers = {}
    if who == "read":
        headers = {"HTTP_AUTHORIZATION": f"Bearer {read_key}"}
    elif who != "none":
        headers = bearer(who)
    response = post(client, NEW_HOST, **headers)
    assert response.status_code == status, response.content
    assert Host.objects.filter(name="web-9").exists() == (status == 200)


def test_an_admin_session_may_apply(db):
    User.objects.create_user("root", password="pw-root-123", is_staff=True)
    browser = Client()
    browser.login(username="root", password="pw-root-123")
    assert post(browser, NEW_HOST).status_code == 200


def test_apply_answers_the_diff(db, client):
    admin = bearer(ADMIN)
    response = post(client, NEW_HOST, **admin)
    assert response.json() == {
        "applied": True,
        "dry_run": False,
        "changes": [
            {
                "kind": "host",
                "name": "web-9",
                "action": "create",
                "fields": [
                    {"field": "name", "old": None, "new": "web-9"},
                    {"field": "tags", "old": None, "new": ["prod"]},
                ],
            }
        ],
        "diff": "+ create host web-9\n    name: 'web-9'\n    tags: ['prod']",
    }
    again = post(client, NEW_HOST, **admin)
    assert again.json()["diff"] == "no changes" and again.json()["applied"] is False


def test_dry_run_through_the_api_changes_nothing(db, client):
    response = post(client, NEW_HOST, "?dry_run=true", **bearer(ADMIN))
    assert response.status_code == 200
    assert (response.json()["dry_run"], response.json()["applied"]) == (True, False)
    assert response.json()["changes"][0]["action"] == "create"
    assert not Host.objects.exists()


def test_prune_through_the_api(configured, client):
    response = post(client, "checks: []", "?prune=true", **bearer(ADMIN))
    assert [c["name"] for c in response.json()["changes"]] == ["db-port", "site"]
    assert AlertRule.objects.exists()


def test_errors_are_a_422_listing_each_with_its_line_and_nothing_changes(db, client):
    text = (
        NEW_HOST + "rules:\n  - name: r\n    metric: cpu\n    warning_level: 9\n    critical_level: 1\n  - {name: s}\n"
    )
    response = post(client, text, **bearer(ADMIN))
    assert response.status_code == 422
    assert [(e["loc"], e["line"]) for e in response.json()["detail"]] == [
        (["body", "rules", 0, "critical_level"], 8),
        (["body", "rules", 1, "metric"], 9),
        (["body", "rules", 1, "warning_level"], 9),
    ]
    assert not Host.objects.exists()


def test_a_body_that_is_not_yaml_is_a_422_with_its_line(db, client):
    response = post(client, "hosts: [\n", **bearer(ADMIN))
    assert response.status_code == 422
    assert response.json()["detail"][0]["line"] == 2


def test_a_body_that_is_not_utf8_is_a_400(db, client):
    response = client.post("/api/config/apply", b"\xff\xfe hosts", content_type="text/plain", **bearer(ADMIN))
    assert response.status_code == 400 and "UTF-8" in response.json()["detail"]


def test_a_gzip_body_is_read(db, client):
    response = client.post(
        "/api/config/apply",
        gzip.compress(NEW_HOST.encode()),
        content_type="text/plain",
        HTTP_CONTENT_ENCODING="gzip",
        **bearer(ADMIN),
    )
    assert response.status_code == 200 and Host.objects.get().name == "web-9"


def test_a_silence_applied_through_the_api_is_the_admins(db, client):
    text = "silences: [{hub: true, starts_at: '2030-01-01T00:00:00Z', ends_at: '2030-01-01T01:00:00Z', reason: deploy}]"
    assert post(client, text, **bearer(ADMIN)).status_code == 200
    silence = Silence.objects.get()
    assert silence.created_by.username == "user-admin"
    assert AuditEntry.objects.get(silence=silence).username == "user-admin"


def test_secrets_are_read_from_the_hubs_environment(configured, client, monkeypatch):
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    admin = bearer(ADMIN)
    response = post(client, export(), **admin)
    assert response.json()["diff"] == "no changes"
    monkeypatch.delenv("STATUSDASH_CHANNEL_OPS_URL")
    response = post(client, export(), **admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "${STATUSDASH_CHANNEL_OPS_URL} is not set in the environment"
