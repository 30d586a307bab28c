"""Daphne terminating mutual TLS (statusdash/lib/tls.py): real handshakes over HTTP/1.1 and
HTTP/2 (ALPN), a real WebSocket, and the agent enrolling, reporting and renewing its certificate."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.test import override_settings

from agent.config import Config
from agent.daemon import Agent
from agent.renew import Renewer
from agent.spool import Spool
from agent.transport import Transport
from conftest import hub_env
from hosts import pki
from hosts.models import ApiKey, ApiKeyScope, Certificate, CertificateKind, EnrollmentToken, Host
from hosts.tests.conftest import CertMaker, ClientFiles, dashboard_socket, tls_daphne, write_client
from metrics.models import MetricSample
from statusdash.tests.support import BASE_DIR, sample_report

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def module_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One CA and server certificate for the module, so one server serves every test."""
    vault = tmp_path_factory.mktemp("tls-vault")
    with override_settings(VAULT_PATH=vault):
        pki._ca_certificate.cache_clear()
        ca = pki.CertificateAuthority.create()
        key = pki.generate_key()
        server = ca.sign(key.public_key(), "127.0.0.1", server=True, days=30, sans=["127.0.0.1", "localhost"])
        cert_path, key_path = pki.server_paths()
        pki.write_file(key_path, pki.key_pem(key), 0o600)
        pki.write_file(cert_path, pki.cert_pem(server).encode())
        yield vault
    pki._ca_certificate.cache_clear()


@pytest.fixture(scope="module")
def server_env(module_vault: Path, tmp_path_factory: pytest.TempPathFactory, django_db_setup: Any) -> dict[str, str]:
    return hub_env(tmp_path_factory.mktemp("tls-hub"), VAULT_PATH=str(module_vault), MTLS_ENABLED="true")


@pytest.fixture(scope="module")
def tls_hub(server_env: dict[str, str], module_vault: Path) -> Iterator[str]:
    with tls_daphne(server_env, module_vault / "certs" / "ca" / "ca.crt") as url:
        yield url


@pytest.fixture
def ca_file(module_vault: Path) -> str:
    return str(module_vault / "certs" / "ca" / "ca.crt")


@pytest.fixture
def certs(module_vault: Path, settings: Any, tmp_path: Path) -> CertMaker:
    settings.VAULT_PATH = module_vault
    pki._ca_certificate.cache_clear()
    return CertMaker(pki.CertificateAuthority.load(), tmp_path)


@pytest.fixture
def agent_host(db: Any) -> Host:
    return Host.objects.create(name="agent-1")


def report(url: str, ca_file: str, files: ClientFiles | None, **kwargs: Any) -> requests.Response:
    return requests.post(
        f"{url}/api/metrics/report",
        json=sample_report(host="agent-1"),
        cert=files.pair if files else None,
        verify=ca_file,
        timeout=10,
        **kwargs,
    )


def test_a_good_certificate_reports(tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host) -> None:
    response = report(tls_hub, ca_file, certs.client("agent-1"))
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "renew_within_days": 14}
    assert MetricSample.objects.filter(host=agent_host).count() == 1


def test_no_certificate_is_refused(tls_hub: str, ca_file: str, agent_host: Host) -> None:
    response = report(tls_hub, ca_file, None)
    assert (response.status_code, response.json()) == (401, {"detail": "a client certificate is required"})


def test_an_api_key_is_refused_while_mtls_is_on(tls_hub: str, ca_file: str, agent_host: Host) -> None:
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=agent_host)
    response = report(tls_hub, ca_file, None, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    assert "API keys are refused while MTLS_ENABLED is on" in response.json()["detail"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        ("other_ca", "not issued by this hub's CA"),
        ("foreign", "signature does not verify against this hub's CA"),
        ("expired", "certificate expired at"),
        ("not_yet_valid", "certificate is not valid until"),
        ("revoked", "certificate was revoked at"),
    ],
)
def test_a_bad_certificate_is_refused_with_its_reason(
    tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host, make: str, reason: str
) -> None:
    response = report(tls_hub, ca_file, getattr(certs, make)("agent-1"))
    assert response.status_code == 403
    assert reason in response.json()["detail"]
    assert not MetricSample.objects.exists()


def test_a_certificate_for_an_unknown_host_is_refused(tls_hub: str, ca_file: str, certs: CertMaker) -> None:
    response = report(tls_hub, ca_file, certs.client("ghost"))
    assert (response.status_code, response.json()["detail"]) == (403, "certificate CN 'ghost' is not a known host")


def test_a_certificate_for_a_disabled_host_is_refused(
    tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host
) -> None:
    files = certs.client("agent-1")
    Host.objects.filter(pk=agent_host.pk).update(enabled=False)
    response = report(tls_hub, ca_file, files)
    assert (response.status_code, response.json()["detail"]) == (403, "host 'agent-1' is disabled")


def test_a_browser_without_a_certificate_gets_the_login_page(tls_hub: str, ca_file: str) -> None:
    response = requests.get(f"{tls_hub}/", verify=ca_file, timeout=10)
    assert response.status_code == 200
    assert response.url.startswith(f"{tls_hub}/login/")


def test_a_logged_in_browser_gets_live_cards_over_the_tls_websocket(
    tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host
) -> None:
    with dashboard_socket(tls_hub, ca_file) as socket:
        assert report(tls_hub, ca_file, certs.client("agent-1")).status_code == 202
        card = socket.recv(timeout=10)
    assert f'id="host-{agent_host.pk}"' in card
    assert f"hx-swap-oob=\"outerHTML:[data-card='{agent_host.pk}']\"" in card  # swapped in wherever the page shows it


def test_the_agent_enrolls_and_reports_over_mutual_tls(
    tls_hub: str, ca_file: str, module_vault: Path, agent_host: Host, tmp_path: Path, settings: Any
) -> None:
    settings.VAULT_PATH = module_vault
    _, token = EnrollmentToken.issue(agent_host)
    agent_env = {"PATH": os.environ["PATH"], "SPOOL_DIR": str(tmp_path / "spool")}
    out = tmp_path / "agent-certs"
    enroll = ["enroll", "--server", tls_hub, "--token", token, "--name", "agent-1", "--ca", ca_file, "--out", str(out)]
    enrolled = subprocess.run(
        [sys.executable, "-m", "agent", *enroll],
        cwd=BASE_DIR,
        env=agent_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    reported = subprocess.run(
        [sys.executable, "-m", "agent", "--once"],
        cwd=BASE_DIR,
        env={
            **agent_env,
            "SERVER_URL": tls_hub,
            "MTLS_ENABLED": "true",
            "TLS_CERT": str(out / "agent.crt"),
            "TLS_KEY": str(out / "agent.key"),
            "TLS_CA": str(out / "ca.crt"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert reported.returncode == 0, reported.stderr
    assert MetricSample.objects.filter(host=agent_host).count() == 1


def test_required_mode_refuses_the_handshake_without_a_certificate(
    server_env: dict[str, str], module_vault: Path, ca_file: str, certs: CertMaker, agent_host: Host
) -> None:
    with tls_daphne(server_env, module_vault / "certs/ca/ca.crt", mode="required") as url:
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{url}/health", verify=ca_file, timeout=10)
        with pytest.raises(requests.exceptions.SSLError):
            report(url, ca_file, certs.other_ca("agent-1"))
        assert report(url, ca_file, certs.client("agent-1")).status_code == 202


def test_openssl_refusal_reaches_the_agent_through_the_scope(
    tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host, tmp_path: Path
) -> None:
    # Ours, recorded as a client certificate, but made for servers: only OpenSSL objects (its purpose).
    key = pki.generate_key()
    certificate = certs.ca.sign(key.public_key(), "agent-1", server=True, days=30)
    Certificate.record(certificate, CertificateKind.CLIENT, agent_host)
    files = write_client(tmp_path, "server-purpose", certificate, key)
    response = report(tls_hub, ca_file, files)
    assert (response.status_code, response.json()["detail"]) == (
        403,
        "client certificate refused: unsuitable certificate purpose",
    )


@contextlib.contextmanager
def h2_connection(url: str, ca_file: str, files: ClientFiles) -> Iterator[tuple[Any, ssl.SSLSocket, str]]:
    """An HTTP/2 client connection (the `h2` package) over TLS with a client certificate:
    (connection, socket, the authority to name in requests)."""
    from h2.config import H2Configuration
    from h2.connection import H2Connection

    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(*files.pair)
    context.set_alpn_protocols(["h2"])
    parts = urlsplit(url)
    with (
        socket.create_connection((parts.hostname, parts.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=parts.hostname) as tls,
    ):
        conn = H2Connection(H2Configuration(client_side=True))
        conn.initiate_connection()
        yield conn, tls, parts.netloc


def h2_post(url: str, ca_file: str, files: ClientFiles, path: str, body: bytes) -> tuple[str, int, bytes]:
    """One HTTP/2 request over a TLS socket: (ALPN protocol, status, body)."""
    from h2.events import DataReceived, ResponseReceived, StreamEnded

    with h2_connection(url, ca_file, files) as (conn, tls, authority):
        headers = [(":method", "POST"), (":path", path), (":scheme", "https"), (":authority", authority)]
        headers += [("content-type", "application/json"), ("content-length", str(len(body)))]
        conn.send_headers(1, headers)
        conn.send_data(1, body, end_stream=True)
        tls.sendall(conn.data_to_send())
        status, answer, done = 0, b"", False
        while not done:
            data = tls.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, ResponseReceived):
                    status = int(dict(event.headers)[b":status"])
                elif isinstance(event, DataReceived):
                    answer += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, StreamEnded):
                    done = True
            tls.sendall(conn.data_to_send())
        return tls.selected_alpn_protocol() or "", status, answer


def test_http2_carries_the_client_certificate_too(
    tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host
) -> None:
    body = json.dumps(sample_report(host="agent-1")).encode()
    protocol, status, answer = h2_post(tls_hub, ca_file, certs.client("agent-1"), "/api/metrics/report", body)
    assert protocol == "h2"
    assert (status, json.loads(answer)) == (202, {"accepted": 1, "duplicates": 0, "renew_within_days": 14})


def test_http2_refuses_a_revoked_certificate_with_its_reason(
    tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host
) -> None:
    body = json.dumps(sample_report(host="agent-1")).encode()
    _, status, answer = h2_post(tls_hub, ca_file, certs.revoked("agent-1"), "/api/metrics/report", body)
    assert status == 403
    assert "revoked" in json.loads(answer)["detail"]


def test_http2_resets_a_stream_that_announces_an_oversized_body(
    tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host
) -> None:
    """The early body limit (statusdash/lib/server.py) holds on the mutual-TLS port's HTTP/2 too."""
    from h2.events import ResponseReceived, StreamReset

    with h2_connection(tls_hub, ca_file, certs.client("agent-1")) as (conn, tls, authority):
        headers = [(":method", "POST"), (":path", "/api/metrics/report"), (":scheme", "https")]
        headers += [(":authority", authority), ("content-length", str(10 * 1024**3))]
        conn.send_headers(1, headers)  # and not a byte of the ten gigabytes
        tls.sendall(conn.data_to_send())
        outcome = None
        while outcome is None:
            data = tls.recv(65536)
            assert data, "the server closed the connection instead of resetting the stream"
            for event in conn.receive_data(data):
                if isinstance(event, (StreamReset, ResponseReceived)):
                    outcome = event
            tls.sendall(conn.data_to_send())
    assert isinstance(outcome, StreamReset), outcome
    assert outcome.stream_id == 1


def test_tls_server_without_certificates_names_the_commands(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path), "ENV_FILE": str(tmp_path / "none"), "VAULT_PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "statusdash.tls_server", "-p", "1"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "run `python manage.py certs init-ca` and `python manage.py certs server` first" in result.stderr


# --- the agent renewing its own certificate, on its own clock

AGENT_DAY = 86400.0


class AgentClock:
    """The agent's wall clock, moved forward by hand: the hub keeps the real time."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


def test_an_agent_near_expiry_renews_and_reports_with_the_new_certificate(
    tls_hub: str, ca_file: str, certs: CertMaker, agent_host: Host, tmp_path: Path
) -> None:
    issued = certs.client("agent-1", days=30)
    etc = tmp_path / "etc" / "certs"
    etc.mkdir(parents=True)
    shutil.copy(issued.cert, etc / "agent.crt")
    shutil.copy(issued.key, etc / "agent.key")
    config = Config(
        server_url=tls_hub,
        tls_cert=str(etc / "agent.crt"),
        tls_key=str(etc / "agent.key"),
        tls_ca=ca_file,
        spool_dir=str(tmp_path / "spool"),
    )
    transport = Transport(config)
    clock = AgentClock()
    renewer = Renewer(config, transport.post_json, transport.reconnect, now=clock)
    spool = Spool(config.spool_dir, 10_000_000, 3600)
    agent = Agent(config, transport, spool, renewer=renewer)

    def send(seconds_ago: int) -> None:
        body = sample_report(datetime.now(UTC) - timedelta(seconds=seconds_ago), host="agent-1")
        agent.handle(body, deadline=time.monotonic() + 30)
        assert len(spool) == 0, "the hub did not accept the report"

    old = Certificate.objects.get(serial=pki.serial_hex(issued.certificate))
    send(30)  # 30 days left: outside the hub's 14
    assert (etc / "agent.crt").read_bytes() == issued.cert.read_bytes()
    assert Certificate.objects.clients().count() == 1

    clock.ahead = 17 * AGENT_DAY  # 13 days left by the agent's clock
    send(20)  # accepted with the old certificate; the answer says renew within 14 days
    new = Certificate.objects.clients().exclude(pk=old.pk).get()
    assert (new.host, new.renewed_from) == (agent_host, old)
    assert pki.load_certificate((etc / "agent.crt").read_bytes()) == pki.load_certificate(new.pem)
    assert stat.S_IMODE((etc / "agent.key").stat().st_mode) == 0o600
    assert (etc / "agent.key").read_bytes() != issued.key.read_bytes()
    assert sorted(p.name for p in etc.iterdir()) == ["agent.crt", "agent.key"]
    old.refresh_from_db()
    assert old.revoked_at is None  # until the new one is used

    send(10)  # over a new connection, with the new certificate
    old.refresh_from_db()
    assert old.revocation_reason == f"superseded by renewal {new.serial}"
    assert MetricSample.objects.filter(host=agent_host).count() == 3
    refused = report(tls_hub, ca_file, issued)
    assert refused.status_code == 403 and "revoked" in refused.json()["detail"]

    send(0)  # renewed once: the new certificate has a year
    assert Certificate.objects.clients().count() == 2
    transport.close()
    spool.close()
