"""Who may do what, against a real Daphne: every API operation from the OpenAPI document
with no, wrong, revoked and misused credentials; CSRF on the dashboard; the socket."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from statusdash.tests.reliability.conftest import Hub, login
from statusdash.tests.support import sample_report

pytestmark = pytest.mark.reliability

# Operations that need no credentials in headers, by design: logging in, checking a report,
# enrollment, whose credential is the one-time token in its body (tested below), and the
# configuration file's JSON Schema, which holds no data (editors fetch it as they are).
PUBLIC = {
    ("post", "/api/auth/token"),
    ("post", "/api/metrics/validate"),
    ("post", "/api/enroll"),
    ("get", "/api/config/schema.json"),
}
REPORT = ("post", "/api/metrics/report")
# What only an agent may do (its own checks, its certificate's renewal): the other side of the matrix.
AGENT_ONLY = "/api/agent/"


def operations(hub: Hub) -> list[tuple[str, str]]:
    document = requests.get(f"{hub.url}/api/openapi.json", timeout=10).json()
    return [(method, path) for path, item in document["paths"].items() for method in item]


def call(hub: Hub, method: str, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    concrete = path.replace("{ident}", "web-1")
    body = sample_report() if method == "post" else None
    return requests.request(method, f"{hub.url}{concrete}", json=body, headers=headers or {}, timeout=10)


def test_the_document_lists_the_operations_this_matrix_knows(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    ops = operations(shared_hub[0])
    assert REPORT in ops and ("get", "/api/hosts") in ops and len(ops) >= 5


def test_every_protected_operation_without_credentials_is_a_401(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = shared_hub
    for method, path in operations(hub):
        if (method, path) in PUBLIC:
            continue
        response = call(hub, method, path)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["detail"]


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_a_revoked_read_key_is_refused_everywhere(shared_hub: tuple[Hub, dict[str, Any]], header: str) -> None:
    hub, keys = shared_hub
    value = f"Bearer {keys['revoked_read']}" if header == "Authorization" else keys["revoked_read"]
    for method, path in operations(hub):
        if (method, path) in PUBLIC:
            continue
        response = call(hub, method, path, {header: value})
        assert response.status_code in (401, 403), (method, path, response.status_code)


def test_enrollment_with_a_wrong_token_is_a_401(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    body = {"token": "not-a-token", "csr": "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"}
    for headers in ({}, {"Authorization": f"Bearer {keys['read']}"}):
        response = requests.post(f"{hub.url}/api/enroll", json=body, headers=headers, timeout=10)
        assert response.status_code == 401, response.text
        assert response.json()["detail"] == "unknown enrollment token"


def test_a_read_key_cannot_report_metrics(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    response = call(hub, *REPORT, {"Authorization": f"Bearer {keys['read']}"})
    assert response.status_code == 403
    assert "cannot report metrics" in response.json()["detail"]


def test_an_agent_key_cannot_read(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    for method, path in operations(hub):
        if method != "get" or path.startswith(AGENT_ONLY) or (method, path) in PUBLIC:
            continue
        response = call(hub, method, path, {"X-API-Key": keys["agents"]["web-1"]})
        assert response.status_code == 403, (method, path, response.status_code)


def test_only_an_agent_key_reads_the_agents_checks(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    ops = operations(hub)
    assert ("get", "/api/agent/checks") in ops
    as_agent = call(hub, "get", "/api/agent/checks", {"Authorization": f"Bearer {keys['agents']['web-1']}"})
    assert as_agent.status_code == 200 and isinstance(as_agent.json()["checks"], list)
    as_reader = call(hub, "get", "/api/agent/checks", {"Authorization": f"Bearer {keys['read']}"})
    assert as_reader.status_code == 403, as_reader.text


def test_a_revoked_agent_key_cannot_report(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    response = call(hub, *REPORT, {"Authorization": f"Bearer {keys['revoked_agent']}"})
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_an_unknown_key_is_a_401(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = shared_hub
    response = call(hub, *REPORT, {"Authorization": "Bearer sd_not-a-real-key"})
    assert response.status_code == 401


def test_a_forged_bearer_token_is_a_401(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = shared_hub
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."  # alg=none, subject 1
    response = requests.get(f"{hub.url}/api/hosts", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert response.status_code == 401


def test_another_hosts_key_cannot_report_for_a_different_host(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    response = requests.post(
        f"{hub.url}/api/metrics/report",
        json=sample_report(host="web-2"),
        headers={"Authorization": f"Bearer {keys['agents']['web-1']}"},
        timeout=10,
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "host"]


def test_another_hosts_key_cannot_slip_a_different_host_into_a_batch(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    response = requests.post(
        f"{hub.url}/api/metrics/report",
        json={"reports": [sample_report(host="web-1"), sample_report(host="web-2")]},
        headers={"Authorization": f"Bearer {keys['agents']['web-1']}"},
        timeout=10,
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reports", 1, "host"]


@pytest.mark.parametrize("path", ["/logout/", "/login/", "/admin/hosts/host/add/"])
def test_dashboard_posts_without_a_csrf_token_are_a_403(shared_hub: tuple[Hub, dict[str, Any]], path: str) -> None:
    hub, _ = shared_hub
    session = login(hub.url, "admin", "reliability-pass")
    response = session.post(f"{hub.url}{path}", data={"name": "csrf-victim"}, allow_redirects=False, timeout=10)
    assert response.status_code == 403
    # Still logged in: the forged logout did nothing.
    assert session.get(f"{hub.url}/", allow_redirects=False, timeout=10).status_code == 200


def test_the_dashboard_socket_without_a_session_is_closed(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = shared_hub
    # The consumer closes before accepting, which Daphne answers with a 403 to the handshake.
    with pytest.raises(InvalidStatus) as refused:
        connect(hub.url.replace("http", "ws") + "/ws/dashboard/", origin=hub.url)
    assert refused.value.response.status_code == 403


def test_the_dashboard_socket_from_a_foreign_origin_is_refused(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = shared_hub
    session = login(hub.url, "admin", "reliability-pass")
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    with pytest.raises(InvalidStatus) as refused:
        connect(
            hub.url.replace("http", "ws") + "/ws/dashboard/",
            origin="http://evil.example",
            additional_headers={"Cookie": cookie},
        )
    assert refused.value.response.status_code == 403


def test_the_dashboard_socket_with_a_session_is_accepted(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = shared_hub
    session = login(hub.url, "admin", "reliability-pass")
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    url = hub.url.replace("http", "ws") + "/ws/dashboard/"
    with connect(url, origin=hub.url, additional_headers={"Cookie": cookie}) as socket, pytest.raises(TimeoutError):
        socket.recv(timeout=0.5)  # open, quiet until a host reports


def test_repeated_failed_logins_are_throttled(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, _ = shared_hub
    session = requests.Session()
    session.get(f"{hub.url}/login/", timeout=10)
    form = {"username": "mallory", "password": "guess", "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    pages = [
        session.post(f"{hub.url}/login/", data=form, headers={"Referer": f"{hub.url}/login/"}, timeout=10).text
        for _ in range(12)
    ]
    assert "Too many failed log-ins" not in pages[0]
    assert "Too many failed log-ins" in pages[-1]
