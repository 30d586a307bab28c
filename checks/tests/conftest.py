"""Real servers on 127.0.0.1 for the runners' tests: HTTP, TLS, TCP, DNS. Never any other address."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checks.models import Check
from statusdash.tests.skips import require_tool
from statusdash.tests.support import free_port

ROUTES: dict[str, tuple[int, str, str]] = {
    "/good": (200, "text/plain", "all systems go"),
    "/500": (500, "text/plain", "internal error"),
    "/wrong-keyword": (200, "text/plain", "maintenance page"),
    "/json": (200, "application/json", json.dumps({"status": "ok", "checks": [{"state": "green"}], "up": True})),
    "/bad-json": (200, "application/json", "{not json"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(3)
            self.reply(200, "text/plain", "late")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/good")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/auth":
            expected = {"Basic dXNlcjpzM2NyZXQ=", "Bearer tok-123"}  # user:s3cret
            if self.headers.get("Authorization") in expected:
                self.reply(200, "text/plain", "welcome")
            else:
                self.reply(401, "text/plain", "who are you")
        elif self.path == "/echo-header":
            self.reply(200, "text/plain", self.headers.get("X-Probe", ""))
        elif self.path in ROUTES:
            self.reply(*ROUTES[self.path])
        else:
            self.reply(404, "text/plain", "not found")

    def reply(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """Base URL of a local HTTP server with the routes above."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[str]:
    """Base URL of the same routes over TLS, with a certificate from a throwaway CA nobody trusts."""
    _, cert_path, key_path = throwaway_certificate(tmp_path, days=30)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tcp_listener() -> Iterator[int]:
    """A port that accepts connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    return free_port()


def throwaway_certificate(tmp_path: Path, days: int) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 from it, valid `days` more days: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "throwaway test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """(port, CA file) of a TLS server whose certificate, from a throwaway CA, expires in 5 days."""
    ca_path, cert_path, key_path = throwaway_certificate(tmp_path, days=5)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                conn.settimeout(2)
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], ca_path
    stop.set()
    thread.join(2)
    listener.close()


@pytest.fixture
def dns_server(tmp_path: Path) -> Iterator[int]:
    """Port of Debian's dnsmasq on 127.0.0.1, answering for check.test only (nothing upstream)."""
    dnsmasq = require_tool("dnsmasq", "dnsmasq-base")
    port = free_port()
    process = subprocess.Popen(
        [
            dnsmasq,
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--user=root",
            "--address=/check.test/127.0.0.9",
            "--txt-record=check.test,hello from dnsmasq",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                dns.query.udp(dns.message.make_query("check.test", "A"), "127.0.0.1", port=port, timeout=0.5)
                break
            except Exception as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    why = process.stderr.read() if process.stderr else ""
                    raise RuntimeError(f"dnsmasq did not start: {why!r}") from error
        yield port
    finally:
        process.terminate()
        process.wait(5)


@pytest.fixture
def make_check(db: Any) -> Callable[..., Check]:
    """make_check(kind, target, **fields) -> a saved, validated check."""
    counter = iter(range(1, 10_000))

    def make(kind: str, target: str, **fields: Any) -> Check:
        check = Check(name=fields.pop("name", f"{kind}-{next(counter)}"), kind=kind, target=target, **fields)
        check.full_clean()
        check.save()
        return check

    return make
