"""Debian's nginx with deploy/nginx/statusdash.conf in front of a real Daphne.

nginx terminates TLS and forwards the client certificate in X-SSL-Client-* headers;
the hub believes them only from TRUSTED_PROXIES and re-checks the certificate.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import string
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from django.test import Client

from accounts.roles import VIEWER
from conftest import REDIS_TEST_URL, hub_env
from hosts import pki, vault
from hosts.models import ApiKey, ApiKeyScope, Host
from hosts.tests.conftest import CertMaker, serving
from metrics.models import MetricSample
from statusdash.tests.skips import find_tool
from statusdash.tests.support import BASE_DIR, daphne_server, dashboard_socket, free_port, sample_report, user_with_role

NGINX = find_tool("nginx") or "nginx"
CONFIG = BASE_DIR / "deploy" / "nginx" / "statusdash.conf"
# Daphne sees nginx's connections from 127.0.0.1; the "attacker" connects from another loopback address.
UNTRUSTED_SOURCE = "127.0.0.3"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.needs_tool("nginx", "nginx"),
]


def render_config(**values: str) -> str:
    """What envsubst does in the nginx image: fill our ${...}, leave nginx's $variables."""
    text = string.Template(CONFIG.read_text()).safe_substitute(values)
    unfilled = re.findall(r"^[^#\n]*(\$\{\w+\})", text, re.MULTILINE)
    assert not unfilled, f"placeholders of deploy/nginx/statusdash.conf without a value: {unfilled}"
    return text


@pytest.fixture
def hub(tmp_path: Path, vault_dir: Path, ca: pki.CertificateAuthority) -> Iterator[str]:
    env = hub_env(tmp_path, VAULT_PATH=str(vault_dir), MTLS_ENABLED="true", TRUSTED_PROXIES="127.0.0.1")
    with daphne_server(env=env) as url:
        yield url


def write_nginx_config(prefix: Path, *upstreams: str) -> tuple[Path, int]:
    """The shipped config, filled in for these Daphnes and a free port, inside a minimal
    nginx.conf that keeps every file under `prefix`. Issues the server certificate."""
    vault.issue_server_certificate([])
    port = free_port()
    prefix.mkdir()
    server_cert, server_key = pki.server_paths()
    (prefix / "statusdash.conf").write_text(
        render_config(
            STATUS_SERVER_NAME="127.0.0.1",
            NGINX_PORT=str(port),
            # Several Daphnes: more `server` lines in the upstream block (Docker does it with DNS).
            STATUS_UPSTREAM="; server ".join(urlsplit(upstream).netloc for upstream in upstreams),
            TLS_CERT=str(server_cert),
            TLS_KEY=str(server_key),
            TLS_CA=str(pki.ca_paths()[0]),
        )
    )
    temp_paths = "\n".join(
        f"  {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"daemon off;\nmaster_process off;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n  access_log off;\n{temp_paths}\n  include {prefix / 'statusdash.conf'};\n}}\n"
    )
    return prefix / "nginx.conf", port


@contextlib.contextmanager
def nginx_in_front(prefix: Path, *upstreams: str) -> Iterator[str]:
    """Debian's nginx with the shipped config on a free port, proxying to these Daphnes."""
    _, port = write_nginx_config(prefix, *upstreams)
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with serving(process, f"https://127.0.0.1:{port}", pki.ca_paths()[0], log=prefix / "error.log") as url:
        yield url


@pytest.fixture
def nginx(hub: str, tmp_path: Path, vault_dir: Path) -> Iterator[str]:
    with nginx_in_front(tmp_path / "nginx", hub) as url:
        yield url


@pytest.fixture
def agent_host(db: Any) -> Host:
    return Host.objects.create(name="agent-1")


def post_report(
    url: str, cert: tuple[str, str] | None = None, headers: dict[str, str] | None = None
) -> requests.Response:
    return requests.post(
        f"{url}/api/metrics/report",
        json=sample_report(host="agent-1"),
        cert=cert,
        headers=headers,
        verify=str(pki.ca_paths()[0]),
        timeout=10,
    )


def forged_headers(certs: CertMaker) -> dict[str, str]:
    files = certs.client("agent-1")
    return {
        "X-SSL-Client-Verify": "SUCCESS",
        "X-SSL-Client-S-DN": "CN=agent-1",
        "X-SSL-Client-Cert": quote(pki.cert_pem(files.certificate)),
        "X-SSL-Client-Fingerprint": "00",
    }


def test_a_good_certificate_through_nginx_reports(nginx: str, certs: CertMaker, agent_host: Host) -> None:
    response = post_report(nginx, cert=certs.client("agent-1").pair)
    assert response.status_code == 202, response.text
    assert MetricSample.objects.filter(host=agent_host).count() == 1


def test_a_revoked_certificate_nginx_accepts_is_refused_by_the_hub(
    nginx: str, certs: CertMaker, agent_host: Host
) -> None:
    # nginx has no CRL configured here, so it passes the certificate on; the hub re-checks.
    response = post_report(nginx, cert=certs.revoked("agent-1").pair)
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_a_certificate_of_another_ca_is_stopped_by_nginx(nginx: str, certs: CertMaker, agent_host: Host) -> None:
    response = post_report(nginx, cert=certs.other_ca("agent-1").pair)
    assert response.status_code == 400
    assert not MetricSample.objects.exists()


def test_headers_a_client_forges_through_nginx_are_replaced(nginx: str, certs: CertMaker, agent_host: Host) -> None:
    response = post_report(nginx, headers=forged_headers(certs))
    assert (response.status_code, response.json()) == (401, {"detail": "a client certificate is required"})


def test_forged_headers_sent_straight_to_daphne_are_ignored(hub: str, certs: CertMaker, agent_host: Host) -> None:
    parts = urlsplit(hub)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=10, source_address=(UNTRUSTED_SOURCE, 0)
    )
    body = json.dumps(sample_report(host="agent-1"))
    connection.request(
        "POST", "/api/metrics/report", body, {"Content-Type": "application/json", **forged_headers(certs)}
    )
    response = connection.getresponse()
    detail = json.loads(response.read())["detail"]
    assert response.status == 403
    assert f"X-SSL-Client headers from {UNTRUSTED_SOURCE} are ignored" in detail
    assert not MetricSample.objects.exists()


def test_the_dashboard_websocket_works_through_nginx(nginx: str, certs: CertMaker, agent_host: Host) -> None:
    browser = Client()
    browser.force_login(user_with_role("viewer", VIEWER))
    with dashboard_socket(nginx, browser.cookies["sessionid"].value, cafile=str(pki.ca_paths()[0])) as socket:
        assert post_report(nginx, cert=certs.client("agent-1").pair).status_code == 202
        assert received(socket, f'id="host-{agent_host.pk}"')


def received(socket: Any, text: str) -> bool:
    """Whether one report's push holds `text`: its host's card and its table row come as two
    messages, in either order."""
    return any(text in socket.recv(timeout=10) for _ in range(2))


@pytest.fixture
def two_hubs(tmp_path: Path, vault_dir: Path, ca: pki.CertificateAuthority) -> Iterator[tuple[str, str]]:
    """Two Daphnes sharing the database and Redis (the channel layer), each with its own
    metrics directory so that each one's share of the traffic shows on its own /metrics."""
    envs = [
        hub_env(
            tmp_path / name,
            VAULT_PATH=str(vault_dir),
            MTLS_ENABLED="true",
            TRUSTED_PROXIES="127.0.0.1",
            REDIS_URL=REDIS_TEST_URL,
        )
        for name in ("web-a", "web-b")
    ]
    with daphne_server(env=envs[0]) as first, daphne_server(env=envs[1]) as second:
        yield first, second


def accepted_reports(hub: str, read_key: str) -> float:
    text = requests.get(f"{hub}/metrics", headers={"X-API-Key": read_key}, timeout=10).text
    match = re.search(r'^statusdash_ingest_reports_total\{result="accepted"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.redis
def test_websockets_through_nginx_reach_two_daphne_upstreams(
    two_hubs: tuple[str, str], tmp_path: Path, certs: CertMaker, agent_host: Host
) -> None:
    """nginx balances over both Daphnes; the socket sits on one, every report pushes to it."""
    _, read_key = ApiKey.issue(ApiKeyScope.READ, label="prometheus")
    browser = Client()
    browser.force_login(user_with_role("viewer", VIEWER))
    session, cafile = browser.cookies["sessionid"].value, str(pki.ca_paths()[0])
    with nginx_in_front(tmp_path / "nginx", *two_hubs) as url, dashboard_socket(url, session, cafile) as socket:
        for _ in range(4):
            assert post_report(url, cert=certs.client("agent-1").pair).status_code == 202
            assert received(socket, f'id="host-{agent_host.pk}"')
    assert MetricSample.objects.filter(host=agent_host).count() == 4
    shares = [accepted_reports(hub, read_key) for hub in two_hubs]
    assert sum(shares) == 4 and min(shares) >= 1, f"nginx sent every report to one Daphne: {shares}"
