"""Fixtures: a real local HTTP(S) sink that keeps the hub's contract, and a test PKI.

The sink is the network edge the agent talks to; nothing inside the agent is mocked.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent import config

MAX_BODY = 1024 * 1024
MAX_BATCH = 500


class SinkServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the hub behind a proxy would
    server: SinkServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle and the client's
        # delayed ACK add 40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sink.connections.add(self.connection)

    def finish(self) -> None:
        self.server.sink.connections.discard(self.connection)
        super().finish()

    def log_message(self, *args) -> None:
        pass

    def answer(self, status: int, payload: object, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        sink = self.server.sink
        if self.path == "/health":
            self.answer(200, {"status": "ok"})
        elif self.path == "/api/agent/checks" and sink.checks is not None:
            # As the hub: the list and an ETag of it; an unchanged list is a 304 with no body.
            sink.requests.append({"path": self.path, "headers": dict(self.headers), "body": b"", "peer": None})
            if sink.api_key and self.headers.get("Authorization") != f"Bearer {sink.api_key}":
                return self.answer(401, {"detail": "Missing or unknown API key"})
            etag = f'"{hash(json.dumps(sink.checks, sort_keys=True))}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.answer(200, {"checks": sink.checks}, {"ETag": etag})
        else:
            self.answer(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        sink = self.server.sink
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        sink.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": raw, "peer": self.client_address}
        )
        if self.path != "/api/metrics/report":
            return self.answer(404, {"detail": "Not Found"})
        if sink.api_key and self.headers.get("Authorization") != f"Bearer {sink.api_key}":
            return self.answer(401, {"detail": "Missing or unknown API key"})
        if sink.forced:
            status, payload, headers = sink.forced.popleft()
            return self.answer(status, payload, headers)
        if len(raw) > MAX_BODY:
            return self.answer(413, {"detail": "Request body too large"})
        try:
            body = json.loads(raw)
        except ValueError:
            return self.answer(400, {"detail": "Malformed JSON"})
        reports = body.get("reports", [body])
        if len(reports) > MAX_BATCH:
            return self.answer(422, {"detail": [{"loc": ["body", "reports"], "msg": "too many", "type": "too_long"}]})
        for index, report in enumerate(reports):
            if not isinstance(report.get("collected_at"), str) or "cpu" not in report:
                loc = ["body", "reports", index, "collected_at"]
                return self.answer(422, {"detail": [{"loc": loc, "msg": "Field required", "type": "missing"}]})
        accepted = duplicates = 0
        with sink.lock:  # the hub's unique (host, collected_at): a resend is a duplicate
            for report in reports:
                sink.delivered.append(report["collected_at"])
                if report["collected_at"] in sink.stored:
                    duplicates += 1
                else:
                    sink.stored[report["collected_at"]] = report
                    accepted += 1
        self.answer(202, {"accepted": accepted, "duplicates": duplicates})


class Sink:
    """A hub stand-in on 127.0.0.1 that stores reports once and can misbehave on demand."""

    def __init__(self, context: ssl.SSLContext | None = None, api_key: str | None = None) -> None:
        self.context = context
        self.api_key = api_key
        self.stored: dict[str, dict] = {}
        self.delivered: list[str] = []  # collected_at of every report in a 2xx request
        self.requests: list[dict] = []
        self.forced: deque = deque()
        self.checks: list | None = None  # GET /api/agent/checks answers 404 (an older hub) while None
        self.connections: set = set()
        self.lock = threading.Lock()
        self.port = free_port()
        self.server: SinkServer | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.context else 'http'}://127.0.0.1:{self.port}"

    def answer_next(self, status: int, payload: object = None, headers: dict | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.forced.append((status, payload if payload is not None else {"detail": "forced"}, headers))

    def start(self) -> None:
        self.server = SinkServer(("127.0.0.1", self.port), SinkHandler)
        self.server.sink = self
        if self.context:
            self.server.socket = self.context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Go down like a dead hub: stop listening and cut kept-alive connections."""
        if not self.server:
            return
        self.server.shutdown()
        self.server.server_close()
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sink():
    server = Sink(api_key="test-key")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api_config(sink, tmp_path):
    return config.Config(
        server_url=sink.url,
        mtls_enabled=False,
        api_key="test-key",
        request_timeout=2.0,
        spool_dir=str(tmp_path / "spool"),
    )


@pytest.fixture(autouse=True)
def no_default_env_file(monkeypatch, tmp_path):
    # The machine running the tests may have a real /etc/statusdash/agent.env.
    monkeypatch.setattr(config, "DEFAULT_ENV_FILE", str(tmp_path / "absent-agent.env"))


# --- a test PKI made with cryptography (a test dependency; the daemon never imports it)


class Pki:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def ca(self, name: str) -> tuple:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = self._builder(subject, subject, key.public_key(), days=3650)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        cert = self._sign(builder, key)
        path = self._write(f"{name}.crt", cert)
        return key, cert, path

    def issue(
        self, ca: tuple, cn: str, server: bool = False, days: int = 365, start_days_ago: int = 1
    ) -> tuple[str, str]:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        ca_key, ca_cert, _ = ca
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = self._builder(subject, ca_cert.subject, key.public_key(), days, start_days_ago)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = self._sign(builder, ca_key)
        return self._write(f"{cn}.crt", cert), self._write_key(f"{cn}.key", key)

    def _builder(self, subject, issuer, public_key, days, start_days_ago=1):
        from cryptography import x509

        now = datetime.datetime.now(datetime.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=start_days_ago))
            .not_valid_after(now + datetime.timedelta(days=days - start_days_ago))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    def _sign(self, builder, key):
        from cryptography.hazmat.primitives import hashes

        return builder.sign(key, hashes.SHA256())

    def _write(self, name: str, cert) -> str:
        from cryptography.hazmat.primitives import serialization

        path = self.dir / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return str(path)

    def _write_key(self, name: str, key) -> str:
        from cryptography.hazmat.primitives import serialization

        path = self.dir / name
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        path.chmod(0o600)
        return str(path)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """One CA with a server certificate for 127.0.0.1 and a client certificate."""
    made = Pki(tmp_path_factory.mktemp("pki"))
    ca = made.ca("statusdash-test-ca")
    made.authority = ca
    made.ca_path = ca[2]
    made.server_cert, made.server_key = made.issue(ca, "status.test", server=True)
    made.client_cert, made.client_key = made.issue(ca, "test-host")
    return made


@pytest.fixture
def mtls_sink(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca_path)
    context.verify_mode = ssl.CERT_REQUIRED
    server = Sink(context=context)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mtls_config(mtls_sink, pki, tmp_path):
    return config.Config(
        server_url=mtls_sink.url,
        mtls_enabled=True,
        tls_cert=pki.client_cert,
        tls_key=pki.client_key,
        tls_ca=pki.ca_path,
        request_timeout=2.0,
        spool_dir=str(tmp_path / "spool"),
    )
