"""The scripts' command line (statusdash/client.py).

Silences and alerts are answered by a small HTTP server on 127.0.0.1 that records each
request and answers as the hub's API contract says (the routes are built apart, on the
api-routes branch); `apply` runs against a real hub (Daphne).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from statusdash import client
from statusdash.tests.support import BASE_DIR, free_port

TOKEN = "test-token"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class ContractHub:
    """Answers per (method, path): a list of (status, body) given in turn, the last one repeated."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    answers: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)

    def answer(self, method: str, path: str, *replies: tuple[int, Any]) -> None:
        self.answers[(method, path)] = list(replies)

    def reply(self, method: str, path: str) -> tuple[int, Any]:
        replies = self.answers.get((method, path))
        if not replies:
            return 404, {"detail": "Not Found"}
        return replies.pop(0) if len(replies) > 1 else replies[0]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractHub]:
    state = ContractHub()

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode()
            state.requests.append(Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body))
            status, answer = state.reply(self.command, parts.path)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = handle_one

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(client, "RETRY_PAUSE_SECONDS", 0)
    monkeypatch.delenv("STATUSDASH_URL", raising=False)
    monkeypatch.delenv("STATUSDASH_TOKEN", raising=False)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def run(hub: ContractHub, *argv: str) -> int:
    return client.main(["--url", hub.url, "--token", TOKEN, *argv])


SILENCE = {"id": 7, "starts_at": "2026-12-03T18:00:00Z", "ends_at": "2026-12-03T18:30:00Z", "active": True}


def test_silence_add_posts_the_contracts_body_with_the_token_and_a_key(hub, capsys):
    hub.answer("POST", "/api/silences", (201, SILENCE))
    assert run(hub, "silence", "add", "--host", "web-1", "--for", "30m", "--reason", "deploy") == 0
    (sent,) = hub.requests
    assert sent.body == {"host": "web-1", "duration_seconds": 1800, "reason": "deploy"}
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert uuid.UUID(sent.headers["Idempotency-Key"]).version == 4
    assert capsys.readouterr().out == "silence 7 on host web-1 until 2026-12-03T18:30:00Z\n"


@pytest.mark.parametrize(
    ("flag", "value", "field"),
    [("--tag", "rack-2", "tag"), ("--service", "billing", "service"), ("--rule", "cpu", "rule")],
)
def test_silence_add_by_tag_service_or_rule(hub, flag, value, field):
    hub.answer("POST", "/api/silences", (201, SILENCE))
    assert run(hub, "silence", "add", flag, value, "--for", "2h", "--reason", "maintenance") == 0
    assert hub.requests[0].body == {field: value, "duration_seconds": 7200, "reason": "maintenance"}


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("2h", 7200), ("1d", 86400), ("90s", 90), ("1h30m", 5400)]
)
def test_durations(text, seconds):
    assert client.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30", "30x", "m", "0m", "-5m", "1h 30m", ""])
def test_a_bad_duration_exits_2_before_asking_the_hub(hub, capsys, text):
    with pytest.raises(SystemExit) as exit_info:
        run(hub, "silence", "add", "--host", "web-1", f"--for={text}", "--reason", "deploy")
    assert exit_info.value.code == 2
    assert "duration" in capsys.readouterr().err
    assert hub.requests == []


def test_a_retried_create_sends_the_same_idempotency_key(hub):
    hub.answer("POST", "/api/silences", (503, {"detail": "the hub cannot store data right now"}), (201, SILENCE))
    assert run(hub, "silence", "add", "--host", "web-1", "--for", "30m", "--reason", "deploy") == 0
    first, second = hub.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body


def test_two_creates_send_two_keys(hub):
    hub.answer("POST", "/api/silences", (201, SILENCE))
    for _ in range(2):
        run(hub, "silence", "add", "--host", "web-1", "--for", "30m", "--reason", "deploy")
    assert len({sent.headers["Idempotency-Key"] for sent in hub.requests}) == 2


def test_a_hub_that_keeps_failing_exits_1_after_the_retries(hub, capsys):
    hub.answer("POST", "/api/silences", (500, {"detail": "boom"}))
    assert run(hub, "silence", "add", "--host", "web-1", "--for", "30m", "--reason", "deploy") == 1
    assert len(hub.requests) == 1  # a 500 is no passing trouble: not sent again
    assert capsys.readouterr().err == "statusdash: the hub failed (500): boom\n"


def test_a_refusal_exits_2_with_the_hubs_message(hub, capsys):
    hub.answer("POST", "/api/silences", (403, {"detail": "only an operator may do this"}))
    assert run(hub, "silence", "add", "--host", "web-1", "--for", "30m", "--reason", "deploy") == 2
    assert capsys.readouterr().err == "statusdash: the hub refused (403): only an operator may do this\n"


def test_a_422_lists_each_field(hub, capsys):
    invalid = [{"loc": ["body", "host"], "msg": "no host is called 'web-9'", "type": "value_error"}]
    hub.answer("POST", "/api/silences", (422, {"detail": invalid}))
    assert run(hub, "silence", "add", "--host", "web-9", "--for", "30m", "--reason", "deploy") == 2
    assert capsys.readouterr().err == "statusdash: the hub refused (422): \n  host: no host is called 'web-9'\n"


def test_connection_refused_exits_2_naming_the_hub(capsys, monkeypatch):
    monkeypatch.setattr(client, "RETRY_PAUSE_SECONDS", 0)
    url = f"http://127.0.0.1:{free_port()}"
    assert client.main(["--url", url, "alerts", "list"]) == 2
    assert capsys.readouterr().err == f"statusdash: cannot reach the hub at {url}: connection refused\n"


def test_url_and_token_come_from_the_environment(hub, monkeypatch):
    hub.answer("POST", "/api/silences/5/expire", (200, {"id": 5, "active": False}))
    monkeypatch.setenv("STATUSDASH_URL", hub.url + "/")
    monkeypatch.setenv("STATUSDASH_TOKEN", "from-env")
    assert client.main(["silence", "expire", "5"]) == 0
    assert hub.requests[0].headers["Authorization"] == "Bearer from-env"


def test_without_a_url_it_exits_2_saying_how_to_give_one(capsys, monkeypatch):
    monkeypatch.delenv("STATUSDASH_URL", raising=False)
    assert client.main(["alerts", "list"]) == 2
    assert "STATUSDASH_URL" in capsys.readouterr().err


def test_silence_expire(hub, capsys):
    hub.answer("POST", "/api/silences/5/expire", (200, {**SILENCE, "id": 5, "active": False}))
    assert run(hub, "silence", "expire", "5") == 0
    assert [(r.method, r.path) for r in hub.requests] == [("POST", "/api/silences/5/expire")]
    assert capsys.readouterr().out == "silence 5 expired\n"


ALERT = {
    "id": 12,
    "state": "firing",
    "severity": "critical",
    "host": "web-1",
    "service": "",
    "rule": "disk",
    "summary": "disk on / at 97.0%",
    "started_at": "2026-12-03T17:00:00Z",
    "acknowledged": False,
}


def test_alerts_list_firing_follows_the_cursor(hub, capsys):
    second = {**ALERT, "id": 11, "host": None, "service": "billing", "rule": "check", "severity": "warning"}
    hub.answer(
        "GET",
        "/api/alerts",
        (200, {"items": [ALERT], "next_cursor": "abc"}),
        (200, {"items": [second], "next_cursor": None}),
    )
    assert run(hub, "alerts", "list", "--firing") == 0
    assert [r.query for r in hub.requests] == [{"state": ["firing"]}, {"state": ["firing"], "cursor": ["abc"]}]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "STATE", "SEVERITY", "ABOUT", "RULE", "SINCE", "ACK", "SUMMARY"]
    assert lines[1].split()[:5] == ["12", "firing", "critical", "web-1", "disk"]
    assert lines[1].endswith("disk on / at 97.0%")
    assert lines[2].split()[:6] == ["11", "firing", "warning", "service", "billing", "check"]


def test_alerts_list_as_json_for_scripts(hub, capsys):
    hub.answer("GET", "/api/alerts", (200, {"items": [ALERT], "next_cursor": None}))
    assert run(hub, "--json", "alerts", "list") == 0
    assert hub.requests[0].query == {}
    assert json.loads(capsys.readouterr().out) == [ALERT]


def test_alerts_ack_with_a_note(hub, capsys):
    hub.answer("POST", "/api/alerts/12/ack", (200, {**ALERT, "acknowledged": True}))
    assert run(hub, "alerts", "ack", "12", "--note", "on it") == 0
    assert hub.requests[0].body == {"note": "on it"}
    assert "Idempotency-Key" not in hub.requests[0].headers  # not a create
    assert capsys.readouterr().out == "alert 12 acknowledged\n"


def test_an_unknown_alert_exits_2(hub, capsys):
    hub.answer("POST", "/api/alerts/99/ack", (404, {"detail": "no alert 99"}))
    assert run(hub, "alerts", "ack", "99") == 2
    assert capsys.readouterr().err == "statusdash: the hub refused (404): no alert 99\n"


def test_apply_sends_the_file_as_it_is(hub, tmp_path, capsys):
    path = tmp_path / "statusdash.yaml"
    path.write_text("hosts:\n  - name: web-9\n")
    hub.answer(
        "POST",
        "/api/config/apply",
        (200, {"applied": False, "dry_run": True, "changes": [{}], "diff": "+ create host web-9"}),
    )
    assert run(hub, "apply", str(path), "--dry-run", "--prune") == 0
    (sent,) = hub.requests
    assert sent.body == "hosts:\n  - name: web-9\n"
    assert sent.query == {"dry_run": ["true"], "prune": ["true"]}
    assert capsys.readouterr().out == "+ create host web-9\n(dry run: nothing was changed)\n"


def test_the_client_runs_with_only_requests_and_no_django(hub, tmp_path):
    """As it runs on a machine with nothing but Python and requests (no site-packages, no Django)."""
    import certifi
    import charset_normalizer
    import idna
    import requests
    import urllib3

    path = tmp_path / "path"
    (path / "statusdash").mkdir(parents=True)
    for name in ("__init__.py", "client.py"):
        (path / "statusdash" / name).write_text((BASE_DIR / "statusdash" / name).read_text())
    for module in (requests, urllib3, idna, certifi, charset_normalizer):
        (path / module.__name__).symlink_to(Path(module.__file__).parent)
    hub.answer("POST", "/api/silences", (201, SILENCE))
    probe = (
        "import sys, runpy; sys.path[:0] = [sys.argv.pop(1)]; "
        "import atexit; atexit.register(lambda: print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'ninja', 'pydantic', 'yaml', 'celery', 'alerts', 'hosts')), file=sys.stderr)); "
        "runpy.run_module('statusdash.client', run_name='__main__')"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            probe,
            str(path),
            "--url",
            hub.url,
            "silence",
            "add",
            "--host",
            "web-1",
            "--for",
            "30m",
            "--reason",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr
    assert hub.requests[0].body == {"host": "web-1", "duration_seconds": 1800, "reason": "x"}


# --- apply against a real hub ------------------------------------------------------------------


@pytest.fixture
def admin_token(transactional_db: Any) -> str:
    from django.contrib.auth.models import User

    from accounts.roles import ADMIN, set_role
    from hosts.auth import issue_token

    user = User.objects.create_user("deployer", password="pw-deployer-1")
    set_role(user, ADMIN)
    return issue_token(user)[0]


@pytest.mark.slow
def test_apply_against_a_live_hub(live_hub, admin_token, tmp_path, capsys):
    from alerts.models import AlertRule
    from hosts.models import Host

    path = tmp_path / "statusdash.yaml"
    path.write_text(
        "hosts:\n  - name: web-9\n    tags: [prod]\nrules:\n  - {name: web-9-cpu, metric: cpu, warning_level: 90, host: web-9}\n"
    )
    args = ["--url", live_hub, "--token", admin_token, "apply", str(path)]
    assert client.main([*args, "--dry-run"]) == 0
    assert "+ create host web-9" in capsys.readouterr().out
    assert not Host.objects.filter(name="web-9").exists()

    assert client.main(args) == 0
    assert capsys.readouterr().out.startswith("+ create host web-9\n")
    assert AlertRule.objects.get(name="web-9-cpu").host == Host.objects.get(name="web-9")
    assert client.main(args) == 0
    assert capsys.readouterr().out == "no changes\n"

    path.write_text(
        "rules:\n  - {name: r, metric: cpu, warning_level: 9, critical_level: 1}\n  - {name: s, metric: cpuu, warning_level: 1}\n"
    )
    assert client.main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        "statusdash: the hub refused (422): ",
        f"  {path}: line 2: rules.0.critical_level: The critical level must be at least the warning level.",
        f"  {path}: line 3: rules.1.metric: Input should be 'cpu', 'memory', 'swap', 'load', 'disk', 'network_in', "
        "'network_out' or 'temperature'",
    ]
    assert not AlertRule.objects.filter(name="r").exists()


@pytest.mark.slow
def test_apply_without_an_admin_token_exits_2(live_hub, transactional_db, tmp_path, capsys):
    path = tmp_path / "statusdash.yaml"
    path.write_text("hosts: []\n")
    assert client.main(["--url", live_hub, "apply", str(path)]) == 2
    assert "the hub refused (401): authentication required" in capsys.readouterr().err
