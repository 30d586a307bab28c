"""Each built-in kind of service check against real servers on 127.0.0.1, and plugins, hostile ones too."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent import nagios, probes
from agent.tests.conftest import free_port

PLUGINS = "/usr/lib/nagios/plugins"
needs_plugins = pytest.mark.needs_tool(f"{PLUGINS}/check_dummy", "monitoring-plugins-basic")


def check(kind: str, target: str, timeout: float = 3.0, **fields) -> dict:
    return {"id": 1, "name": "c", "kind": kind, "target": target, "interval": 60, "timeout": timeout, **fields}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body: str, content_type: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/good":
            self.reply(200, "all systems go")
        elif self.path == "/500":
            self.reply(500, "internal error")
        elif self.path == "/json":
            self.reply(200, json.dumps({"status": "ok", "checks": [{"state": "green"}]}), "application/json")
        elif self.path == "/bad-json":
            self.reply(200, "{not json", "application/json")
        elif self.path == "/auth":
            ok = self.headers.get("Authorization") in ("Basic dXNlcjpzM2NyZXQ=", "Bearer tok-123")
            self.reply(200 if ok else 401, "welcome" if ok else "who are you")
        elif self.path == "/slow":
            time.sleep(2)
            self.reply(200, "late")
        else:
            self.reply(404, "not found")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (the timeout tests) is expected


@pytest.fixture(scope="module")
def web():
    server = QuietServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- http


def test_http_good_is_ok_with_latency(web) -> None:
    result = probes.probe(check("http", f"{web}/good"), ())
    assert (result.state, result.message) == ("ok", "HTTP 200")
    assert result.latency_ms is not None and result.latency_ms > 0


def test_http_500_is_critical(web) -> None:
    result = probes.probe(check("http", f"{web}/500"), ())
    assert (result.state, result.message) == ("critical", "HTTP 500")


def test_http_missing_keyword_is_critical(web) -> None:
    result = probes.probe(check("http", f"{web}/good", options={"keyword": "maintenance"}), ())
    assert result.state == "critical" and "'maintenance' is not in the body" in result.message


def test_http_json_path_must_hold_the_expected_value(web) -> None:
    ok = check("http", f"{web}/json", options={"json_path": "checks.0.state", "json_expected": "green"})
    wrong = check("http", f"{web}/json", options={"json_path": "status", "json_expected": "down"})
    assert probes.probe(ok, ()).state == "ok"
    assert probes.probe(wrong, ()).message == "status is 'ok', expected 'down'"


def test_http_bad_json_is_critical(web) -> None:
    result = probes.probe(check("http", f"{web}/bad-json", options={"json_path": "status"}), ())
    assert result.message == "HTTP 200, but the body is not JSON"


def test_http_sends_the_checks_credentials(web) -> None:
    assert probes.probe(check("http", f"{web}/auth"), ()).state == "critical"
    assert probes.probe(check("http", f"{web}/auth", username="user", password="s3cret"), ()).state == "ok"
    assert probes.probe(check("http", f"{web}/auth", bearer_token="tok-123"), ()).state == "ok"


def test_http_slow_answer_is_critical_at_the_timeout(web) -> None:
    result = probes.probe(check("http", f"{web}/slow", timeout=0.5), ())
    assert (result.state, result.message) == ("critical", "no answer within 0.5 s")


def test_http_closed_port_is_critical() -> None:
    result = probes.probe(check("http", f"http://127.0.0.1:{free_port()}/"), ())
    assert result.state == "critical" and "ConnectionError" in result.message


# --- tcp


def test_tcp_listener_is_ok_and_closed_port_critical() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = probes.probe(check("tcp", f"127.0.0.1:{port}"), ())
        assert (result.state, result.message) == ("ok", f"connected to 127.0.0.1:{port}")
    closed = probes.probe(check("tcp", f"127.0.0.1:{free_port()}"), ())
    assert closed.state == "critical" and "refused" in closed.message.lower()


def test_tcp_target_without_port_is_unknown() -> None:
    assert probes.probe(check("tcp", "127.0.0.1"), ()).state == "unknown"


# --- tls: a certificate from a throwaway CA expiring in 5 days


@pytest.fixture(scope="module")
def tls_server(pki):
    cert, key = pki.issue(pki.authority, "expiring", server=True, days=6, start_days_ago=1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()


def test_tls_certificate_expiring_in_5_days_is_critical(tls_server, pki, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca_path)  # trust the throwaway CA, as the host's store would
    result = probes.probe(check("tls", tls_server), ())
    assert result.state == "critical"
    assert "(4.9 days)" in result.message or "(5.0 days)" in result.message
    assert result.latency_ms is not None


def test_tls_warns_inside_warn_days(tls_server, pki, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca_path)
    result = probes.probe(check("tls", tls_server, options={"warn_days": 14, "critical_days": 3}), ())
    assert result.state == "warning"


def test_tls_untrusted_ca_is_critical(tls_server) -> None:
    result = probes.probe(check("tls", tls_server), ())
    assert result.state == "critical" and result.message.startswith("certificate not trusted")


def test_tls_unverified_still_reads_the_expiry_without_cryptography(tls_server) -> None:
    result = probes.probe(check("tls", tls_server, options={"verify": False, "critical_days": 1}), ())
    assert result.state == "warning" and "days)" in result.message


# --- dns (the host's resolvers: A and AAAA)


def test_dns_a_record_of_localhost() -> None:
    result = probes.probe(check("dns", "localhost", options={"expected": "127.0.0.1"}), ())
    assert result.state == "ok" and "127.0.0.1" in result.message


def test_dns_unexpected_answer_is_critical() -> None:
    result = probes.probe(check("dns", "localhost", options={"expected": "10.9.9.9"}), ())
    assert result.state == "critical" and "expected 10.9.9.9" in result.message


def test_dns_nonexistent_name_is_critical() -> None:
    # .invalid never resolves (RFC 2606); the host's resolver may still be asked, nothing else is.
    assert probes.probe(check("dns", "nothing.invalid"), ()).state == "critical"


@pytest.mark.parametrize("options", [{"record_type": "MX"}, {"resolver": "127.0.0.1:53"}])
def test_dns_what_the_agent_cannot_ask_is_unknown_saying_so(options) -> None:
    result = probes.probe(check("dns", "localhost", options=options), ())
    assert result.state == "unknown" and "hub" in result.message


# --- ping


@pytest.mark.needs_tool("ping", "iputils-ping")
def test_ping_localhost(tmp_path) -> None:
    result = probes.probe(check("ping", "127.0.0.1", options={"count": 1}), ())
    if result.state == "critical" and "permitted" in result.message.lower():
        pytest.skip("this user may not ping here (net.ipv4.ping_group_range)")
    assert result.state == "ok" and result.latency_ms is not None


def test_ping_without_the_command_is_unknown(monkeypatch) -> None:
    monkeypatch.setattr(probes.shutil, "which", lambda name: None)
    monkeypatch.setattr(probes.os.path, "exists", lambda path: False)
    assert probes.probe(check("ping", "127.0.0.1"), ()).message.startswith("no ping command")


def test_ping_target_that_looks_like_an_option_is_refused() -> None:
    assert probes.probe(check("ping", "-f"), ()).state == "unknown"


# --- plugins


@needs_plugins
@pytest.mark.parametrize(("code", "state"), [(0, "ok"), (1, "warning"), (2, "critical"), (3, "unknown")])
def test_check_dummy_exit_codes(code, state) -> None:
    result = probes.probe(check("plugin", f"{PLUGINS}/check_dummy", options={"args": [str(code), "hello"]}), [PLUGINS])
    assert result.state == state and "hello" in result.message


@needs_plugins
def test_check_tcp_gives_its_latency() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        args = ["-H", "127.0.0.1", "-p", str(port)]
        result = probes.probe(check("plugin", f"{PLUGINS}/check_tcp", options={"args": args}), [PLUGINS])
    assert result.state == "ok" and result.latency_ms is not None


def plugin_dir(tmp_path, name: str, body: str) -> str:
    directory = tmp_path / "plugins"
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(directory)


def test_a_plugin_outside_the_allow_list_is_refused(tmp_path) -> None:
    directory = plugin_dir(tmp_path, "ok", "echo fine\n")
    result = probes.probe(check("plugin", f"{directory}/ok"), ["/usr/lib/nagios/plugins"])
    assert result.state == "unknown" and "outside CHECK_PLUGIN_DIRS" in result.message


def test_a_plugin_path_with_dotdot_is_refused(tmp_path) -> None:
    directory = plugin_dir(tmp_path, "ok", "echo fine\n")
    result = probes.probe(check("plugin", f"{directory}/../plugins/ok"), [directory])
    assert result.state == "unknown" and "'..'" in result.message


def test_a_link_out_of_the_plugin_directory_is_refused(tmp_path) -> None:
    directory = plugin_dir(tmp_path, "ok", "echo fine\n")
    os.symlink("/bin/sh", f"{directory}/sh")
    result = probes.probe(check("plugin", f"{directory}/sh"), [directory])
    assert result.state == "unknown" and "leads outside" in result.message


def test_plugins_are_off_with_no_directories(tmp_path) -> None:
    directory = plugin_dir(tmp_path, "ok", "echo fine\n")
    assert "CHECK_PLUGIN_DIRS is empty" in probes.probe(check("plugin", f"{directory}/ok"), []).message


def test_a_plugin_printing_megabytes_is_cut_and_the_agent_survives(tmp_path) -> None:
    directory = plugin_dir(tmp_path, "chatty", "head -c 20000000 /dev/zero | tr '\\0' x\necho\nexit 1\n")
    started = time.monotonic()
    result = probes.probe(check("plugin", f"{directory}/chatty", timeout=20), [directory])
    assert result.state == "warning"
    assert len(result.message) <= nagios.OUTPUT_LIMIT
    assert time.monotonic() - started < 20


def test_a_plugin_that_never_exits_is_killed_at_the_timeout(tmp_path) -> None:
    directory = plugin_dir(tmp_path, "stuck", 'sleep 600 &\necho $! > "$0.child"\nsleep 600\n')
    started = time.monotonic()
    result = probes.probe(check("plugin", f"{directory}/stuck", timeout=0.5), [directory])
    assert (result.state, result.message) == ("unknown", "the plugin did not finish within 0.5 s (killed)")
    assert time.monotonic() - started < 3
    child = int(Path(f"{directory}/stuck.child").read_text())
    time.sleep(0.1)
    assert gone_or_zombie(child)  # what it started went with it


def gone_or_zombie(pid: int) -> bool:
    # Killed, a child whose parent died too waits as a zombie until init reaps it
    # (in a container PID 1 may never do so); it runs no more either way.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_plugin_gets_no_shell(tmp_path) -> None:
    directory = plugin_dir(tmp_path, "args", 'echo "got: $1"\n')
    result = probes.probe(check("plugin", f"{directory}/args", options={"args": ["$(touch pwned); `id`"]}), [directory])
    assert result.message == "got: $(touch pwned); `id`"
    assert not os.path.exists("pwned")
