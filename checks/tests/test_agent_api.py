"""GET /api/agent/checks: an agent sees the checks it runs, and only those; an unchanged list is a 304."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from checks.models import Check
from hosts import pki
from hosts.models import ApiKey, ApiKeyScope, Host
from hosts.tests.conftest import CertMaker

URL = "/api/agent/checks"
pytestmark = pytest.mark.django_db


def get(client: Client, key: str | None = None, **headers: str) -> Any:
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.get(URL, **headers)


def names(response: Any) -> list[str]:
    return [check["name"] for check in response.json()["checks"]]


def add(name: str, **fields: Any) -> Check:
    fields.setdefault("kind", "tcp")
    fields.setdefault("target", "127.0.0.1:5432")
    return Check.objects.create(name=name, **fields)


@pytest.fixture
def other_host(db: Any) -> Host:
    return Host.objects.create(name="db-1", tags=["db"])


def test_an_agent_gets_its_own_and_its_tags_checks(
    client: Client, host: Host, agent_key: str, other_host: Host
) -> None:
    add("mine", host=host)
    add("by-tag", host_tag="prod")  # the `host` fixture has the tag prod
    add("hub-run")
    add("theirs", host=other_host)
    add("their-tag", host_tag="db")
    response = get(client, agent_key)
    assert response.status_code == 200
    assert names(response) == ["mine", "by-tag"]


def test_disabled_checks_are_not_sent(client: Client, host: Host, agent_key: str) -> None:
    add("off", host=host, enabled=False)
    add("on", host=host)
    assert names(get(client, agent_key)) == ["on"]


def test_the_answer_has_what_the_agent_needs_credentials_included(client: Client, host: Host, agent_key: str) -> None:
    check = add(
        "site",
        host=host,
        kind="http",
        target="http://127.0.0.1:8000/",
        interval=30,
        timeout=5,
        options={"keyword": "ok"},
        username="user",
        password="s3cret",
    )
    (sent,) = get(client, agent_key).json()["checks"]
    assert sent == {
        "id": check.pk,
        "name": "site",
        "kind": "http",
        "target": "http://127.0.0.1:8000/",
        "interval": 30,
        "timeout": 5.0,
        "options": {"keyword": "ok"},
        "username": "user",
        "password": "s3cret",
        "bearer_token": "",
    }


def test_an_unchanged_list_is_a_304_without_a_body(client: Client, host: Host, agent_key: str) -> None:
    add("mine", host=host)
    first = get(client, agent_key)
    etag = first["ETag"]
    again = get(client, agent_key, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_a_changed_list_is_sent_again_with_a_new_etag(client: Client, host: Host, agent_key: str) -> None:
    check = add("mine", host=host)
    etag = get(client, agent_key)["ETag"]
    check.interval = 120
    check.save()
    changed = get(client, agent_key, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["checks"][0]["interval"] == 120


def test_a_state_change_does_not_change_the_etag(client: Client, host: Host, agent_key: str) -> None:
    # The agent's list is what to run, not how it went: results must not cost a resend.
    check = add("mine", host=host)
    etag = get(client, agent_key)["ETag"]
    Check.objects.filter(pk=check.pk).update(state="critical", consecutive_failures=3)
    assert get(client, agent_key, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_another_agents_etag_does_not_match(client: Client, host: Host, agent_key: str, other_host: Host) -> None:
    add("mine", host=host)
    add("theirs", host=other_host)
    _, other_key = ApiKey.issue(ApiKeyScope.AGENT, host=other_host)
    etag = get(client, other_key)["ETag"]
    assert get(client, agent_key, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_without_credentials_it_is_a_401(client: Client, host: Host) -> None:
    add("mine", host=host)
    response = get(client)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_read_key_is_refused(client: Client, host: Host, read_key: str) -> None:
    add("mine", host=host)
    assert get(client, read_key).status_code == 403


def test_a_client_certificate_from_a_trusted_proxy_identifies_the_agent(
    client: Client, ca: pki.CertificateAuthority, cert_host: Host, settings: Any, tmp_path: Path
) -> None:
    certs = CertMaker(ca, tmp_path)
    settings.MTLS_ENABLED = True
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    add("cert-check", host=cert_host)
    files = certs.client("agent-1")
    response = client.get(
        URL,
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_SSL_CLIENT_VERIFY="SUCCESS",
        HTTP_X_SSL_CLIENT_CERT=quote(pki.cert_pem(files.certificate)),
    )
    assert response.status_code == 200
    assert names(response) == ["cert-check"]


def test_an_api_key_is_refused_while_mtls_is_on(client: Client, host: Host, agent_key: str, settings: Any) -> None:
    settings.MTLS_ENABLED = True
    assert get(client, agent_key).status_code == 401


def test_the_endpoint_is_in_the_openapi_document(client: Client) -> None:
    document = client.get("/api/openapi.json").json()
    operation = document["paths"]["/api/agent/checks"]["get"]
    assert {"200", "304", "401"} <= set(operation["responses"])
