"""Hand-written hostile input against a real Daphne: it is refused with a 4xx naming the
problem, stored verbatim, or rendered escaped; never a 500, never a stalled server."""

from __future__ import annotations

import html
import json
import socket
import threading
import time
from typing import Any

import pytest
import requests

from statusdash.tests.reliability import stored
from statusdash.tests.reliability.conftest import HOSTILE_NAMES, XSS, Hub, as_utc, login
from statusdash.tests.support import sample_report

pytestmark = pytest.mark.reliability


@pytest.fixture
def hub(shared_hub: tuple[Hub, dict[str, Any]]) -> Hub:
    return shared_hub[0]


@pytest.fixture
def agent(shared_hub: tuple[Hub, dict[str, Any]]) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {shared_hub[1]['agents']['web-1']}"
    return session


def report_url(hub: Hub) -> str:
    return f"{hub.url}/api/metrics/report"


def post_raw(agent: requests.Session, hub: Hub, body: bytes) -> requests.Response:
    return agent.post(report_url(hub), data=body, headers={"Content-Type": "application/json"}, timeout=30)


def test_deeply_nested_json_is_a_400(hub: Hub, agent: requests.Session) -> None:
    response = post_raw(agent, hub, b'{"reports": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_deeply_nested_json_to_the_token_endpoint_is_a_400(hub: Hub) -> None:
    body = b'{"username": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = requests.post(f"{hub.url}/api/auth/token", data=body, timeout=30)
    assert response.status_code == 400
    assert (
        response.json()["detail"] == "malformed JSON body: JSON is nested too deeply"
    )  # the reason, not ninja's generic words


def test_batch_over_500_reports_is_a_422_naming_reports(hub: Hub, agent: requests.Session) -> None:
    response = agent.post(report_url(hub), json={"reports": [{}] * 501}, timeout=30)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "reports"]


def test_huge_array_of_numbers_is_refused_without_a_500(hub: Hub, agent: requests.Session) -> None:
    response = post_raw(agent, hub, b'{"reports": [' + b",".join([b"1"] * 300_000) + b"]}")
    assert response.status_code in (413, 422)


def test_huge_per_core_list_is_a_422_naming_the_field(hub: Hub, agent: requests.Session) -> None:
    report = sample_report()
    report["cpu"]["per_core"] = [1.0] * 100_000
    response = agent.post(report_url(hub), json=report, timeout=30)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "cpu", "per_core"]


def test_oversized_body_is_a_413_before_it_is_read(hub: Hub, agent: requests.Session) -> None:
    response = post_raw(agent, hub, b" " * (8 * 1024 * 1024))
    assert response.status_code == 413


def test_gzip_bomb_is_a_413(hub: Hub, agent: requests.Session) -> None:
    import gzip

    bomb = gzip.compress(b" " * (64 * 1024 * 1024))
    response = agent.post(
        report_url(hub),
        data=bomb,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=30,
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "value",
    [
        "nul\x00byte",
        "bell\x07escape\x1b[31mred",
        "\ud800-lone-surrogate",
        "rtl-\u202eoverride",
        "☃-主机-🚀" * 10,
        "' OR 1=1; DROP TABLE metrics_metricsample; --",
        "x" * 100_000,
        XSS,
    ],
    ids=["nul", "control", "surrogate", "rtl", "unicode", "sql", "long", "html"],
)
@pytest.mark.parametrize(
    "path",
    [("system", "hostname"), ("disks", 0, "mount"), ("network", 0, "interface"), ("temperatures", 0, "sensor")],
    ids=lambda p: ".".join(map(str, p)),
)
def test_hostile_strings_in_report_fields_are_stored_or_refused_by_field(
    hub: Hub, agent: requests.Session, path: tuple[Any, ...], value: str
) -> None:
    report = sample_report()
    target: Any = report
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    body = json.dumps(report).encode("utf-8", "surrogatepass")
    response = post_raw(agent, hub, body)
    assert response.status_code in (202, 400, 422), response.text
    if response.status_code == 422:
        assert tuple(response.json()["detail"][0]["loc"][1:]) == path
    if response.status_code == 400:
        assert response.json()["detail"]
    sample = stored.samples(hub.env, "web-1").get(as_utc(report["collected_at"]))
    if response.status_code != 202:
        assert sample is None, "a refused report was stored"
        return
    assert sample is not None, "an accepted report was not stored"
    if path == ("system", "hostname"):
        assert stored.reported_hostname(hub.env, "web-1") == value
    else:
        section, index, field = path
        assert sample.detail[section][index][field] == value


def test_hostile_names_come_back_verbatim_from_the_api(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    listed = requests.get(f"{hub.url}/api/hosts", headers={"X-API-Key": keys["read"]}, timeout=10).json()
    names = {h["name"] for h in listed}
    assert set(HOSTILE_NAMES) <= names


def test_sql_looking_host_ident_is_a_404_not_an_error(shared_hub: tuple[Hub, dict[str, Any]]) -> None:
    hub, keys = shared_hub
    response = requests.get(f"{hub.url}/api/hosts/1%20OR%201=1", headers={"X-API-Key": keys["read"]}, timeout=10)
    assert response.status_code == 404
    assert requests.get(f"{hub.url}/api/hosts", headers={"X-API-Key": keys["read"]}, timeout=10).status_code == 200


def test_hostile_names_render_escaped_on_the_dashboard_and_in_the_admin(
    shared_hub: tuple[Hub, dict[str, Any]],
) -> None:
    hub, keys = shared_hub
    # A report with a hostile mount name puts markup in the card's metrics too.
    report = sample_report()
    report["disks"][0]["mount"] = XSS
    report["disks"][0]["percent"] = 99.0
    response = requests.post(
        f"{hub.url}/api/metrics/report",
        json=report,
        headers={"Authorization": f"Bearer {keys['agents'][XSS]}"},
        timeout=10,
    )
    assert response.status_code == 202
    session = login(hub.url, "admin", "reliability-pass")
    hosts = requests.get(f"{hub.url}/api/hosts", headers={"X-API-Key": keys["read"]}, timeout=10).json()
    # Each page with the names it must show, escaped: a page that lost its rows would also
    # show nothing unescaped.
    pages = {
        "/": HOSTILE_NAMES,
        "/admin/hosts/host/": HOSTILE_NAMES,
        "/admin/hosts/apikey/": HOSTILE_NAMES,
        "/admin/metrics/metricsample/": [XSS],
        "/admin/hosts/host/?q=%3Cscript%3E": [XSS],
    }
    pages.update({f"/admin/hosts/host/{h['id']}/change/": [h["name"]] for h in hosts if h["name"] in HOSTILE_NAMES})
    for page, shown in pages.items():
        response = session.get(f"{hub.url}{page}", timeout=10)
        assert response.status_code == 200, page
        for name in HOSTILE_NAMES[:2]:
            assert name not in response.text, f"{page} renders {name!r} unescaped"
        for name in shown:
            assert html.escape(name) in response.text, f"{page} does not show {name!r}"
    overview = session.get(f"{hub.url}/", timeout=10).text
    assert html.escape(XSS) in overview or XSS.replace("<", "&lt;").replace(">", "&gt;") in overview


def trickle(hub: Hub, seconds: float, stop: threading.Event) -> None:
    """A client sending a request body one byte at a time."""
    with socket.create_connection(("127.0.0.1", hub.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/metrics/report HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not stop.is_set():
            sock.sendall(b" ")
            time.sleep(0.1)


def slow_headers(hub: Hub, seconds: float, stop: threading.Event) -> None:
    """A client sending its request headers one byte at a time (slowloris)."""
    with socket.create_connection(("127.0.0.1", hub.port), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not stop.is_set():
            sock.sendall(b"X")
            time.sleep(0.1)


@pytest.mark.parametrize("slow_client", [trickle, slow_headers], ids=["slow-body", "slow-headers"])
def test_a_slow_client_does_not_block_other_requests(
    shared_hub: tuple[Hub, dict[str, Any]], agent: requests.Session, slow_client: Any
) -> None:
    hub, _ = shared_hub
    stop = threading.Event()
    slowpokes = [threading.Thread(target=slow_client, args=(hub, 8, stop)) for _ in range(20)]
    for thread in slowpokes:
        thread.start()
    try:
        time.sleep(0.5)
        for _ in range(10):
            assert agent.post(report_url(hub), json=sample_report(), timeout=5).status_code == 202
            assert requests.get(f"{hub.url}/health", timeout=5).status_code == 200
    finally:
        stop.set()
        for thread in slowpokes:
            thread.join()


def test_hundreds_of_idle_connections_do_not_starve_the_hub(hub: Hub, agent: requests.Session) -> None:
    idle = []
    try:
        for _ in range(400):
            idle.append(socket.create_connection(("127.0.0.1", hub.port), timeout=10))
        for _ in range(10):
            assert agent.post(report_url(hub), json=sample_report(), timeout=5).status_code == 202
        assert requests.get(f"{hub.url}/health", timeout=5).status_code == 200
    finally:
        for sock in idle:
            sock.close()
