"""The hub's Daphne refuses oversized bodies before reading them (statusdash/lib/server.py)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings

from conftest import hub_env
from statusdash.tests.support import ServerURL, daphne_server

pytestmark = [pytest.mark.slow]

LIMIT = 1024 * 1024  # MAX_REPORT_BYTES's default, which the server below runs with


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, django_db_setup: Any) -> Iterator[ServerURL]:
    assert settings.MAX_REPORT_BYTES == LIMIT
    with daphne_server(env=hub_env(tmp_path_factory.mktemp("server"))) as url:
        yield url


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def request_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *headers, "", ""]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize("path", ["/api/metrics/validate", "/api/metrics/report", "/login/", "/admin/login/"])
def test_a_declared_oversized_body_is_refused_before_it_is_sent(hub: ServerURL, path: str) -> None:
    with connect(hub) as sock:
        # Ten gigabytes announced, not a byte of them sent: the answer must not wait for them.
        sock.sendall(request_head(path, f"Content-Length: {10 * 1024**3}"))
        status, headers, body = read_response(sock)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body)["detail"] == f"request body of {10 * 1024**3} bytes is larger than {LIMIT} bytes"


def test_a_chunked_body_is_cut_at_the_limit(hub: ServerURL) -> None:
    piece = b" " * 65536
    sent = 0
    with connect(hub) as sock:
        sock.sendall(request_head("/api/metrics/validate", "Transfer-Encoding: chunked"))
        sock.settimeout(0.05)
        # Keep sending (up to 50 MB) until the server answers.
        answer = b""
        while sent < 50 * 1024 * 1024 and not answer:
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            sent += len(piece)
            with contextlib.suppress(TimeoutError):  # nothing to read yet
                answer = sock.recv(65536)
        sock.settimeout(10)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
    # Refused within a few chunks of the limit, not after the fifty megabytes.
    assert LIMIT < sent < LIMIT + 2 * 1024 * 1024, sent


def test_a_client_that_sends_everything_first_still_reads_the_413(hub: ServerURL) -> None:
    # requests sends the whole body before it reads: the server's lingering close lets it
    # read the answer instead of meeting a connection reset.
    response = requests.post(
        f"{hub}/api/metrics/validate",
        data=b" " * (5 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_bodies_within_the_limit_are_served(hub: ServerURL) -> None:
    body = b'{"reports": [' + b" " * (LIMIT - 200) + b"{}]}"
    response = requests.post(
        f"{hub}/api/metrics/validate", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 422  # read and validated: the one report is empty
    assert response.json()["detail"][0]["loc"][:3] == ["body", "reports", 0]
    # And after refusals on other connections the server still answers this one.
    assert requests.get(f"{hub}/health", timeout=10).status_code == 200


def test_the_refused_body_is_never_stored(hub: ServerURL) -> None:
    """Twisted spools large bodies to a temporary file; none may be opened for a refused one."""

    def open_temp_files() -> int:
        fds = Path(f"/proc/{hub.pid}/fd")
        return sum(1 for fd in fds.iterdir() if "(deleted)" in str(_readlink(fd)))

    before = open_temp_files()
    with connect(hub) as sock:
        sock.sendall(request_head("/api/metrics/validate", f"Content-Length: {10 * 1024**3}"))
        sock.sendall(b" " * (4 * 1024 * 1024))
        status, _, _ = read_response(sock)
        assert status == 413
        assert open_temp_files() == before
        time.sleep(0.2)
        assert open_temp_files() == before


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:  # closed while we looked
        return ""
