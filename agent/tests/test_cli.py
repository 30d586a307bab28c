"""The command line, run as a real process: python -m agent ..."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import __version__

REPO = Path(__file__).resolve().parents[2]


def agent_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def env_file(tmp_path, sink, **extra) -> str:
    values = {
        "SERVER_URL": sink.url,
        "MTLS_ENABLED": "false",
        "API_KEY": "test-key",
        "REQUEST_TIMEOUT": "1",
        "SPOOL_DIR": str(tmp_path / "spool"),
        **extra,
    }
    path = tmp_path / "agent.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return str(path)


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SERVER_URL", "API_KEY", "MTLS_ENABLED")}
    return subprocess.run(agent_cmd(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def start():
    """Start the daemon in the background, its log (stderr) going to a file the test
    can read; whatever a failing test leaves running is killed at teardown."""
    processes = []

    def start_agent(log: Path, *args: str) -> subprocess.Popen:
        with open(log, "w") as stderr:
            process = subprocess.Popen(agent_cmd(*args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)
        processes.append(process)
        return process

    yield start_agent
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen, log: Path, sig: int = signal.SIGTERM) -> str:
    process.send_signal(sig)
    process.wait(timeout=10)
    return log.read_text()


def spooled(tmp_path) -> int:
    path = tmp_path / "spool" / "spool.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT count(*) FROM reports").fetchone()[0]
        except sqlite3.OperationalError:  # the agent is still creating the table
            return 0


def wait_for(condition, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_version_prints_the_agent_version():
    result = run("version")
    assert result.returncode == 0 and result.stdout.strip() == f"statusdash-agent {__version__}"


def test_once_without_subcommand_sends_one_report(sink, tmp_path):
    result = run("--once", "--env-file", env_file(tmp_path, sink))
    assert result.returncode == 0, result.stderr
    assert len(sink.stored) == 1
    assert "accepted 1" in result.stdout


def test_run_once_is_the_same_command(sink, tmp_path):
    result = run("run", "--once", "--env-file", env_file(tmp_path, sink))
    assert result.returncode == 0 and len(sink.stored) == 1


def test_once_fails_with_non_zero_exit_when_the_hub_is_down(sink, tmp_path):
    sink.stop()
    result = run("--once", "--env-file", env_file(tmp_path, sink))
    assert result.returncode == 1
    assert "failed to send report" in result.stderr and "Connection" in result.stderr


def test_once_reports_the_hubs_reason_for_refused_credentials(sink, tmp_path):
    result = run("--once", "--env-file", env_file(tmp_path, sink), "--api-key", "wrong")
    assert result.returncode == 1
    assert "HTTP 401: Missing or unknown API key" in result.stderr


def test_flag_overrides_the_env_file(sink, tmp_path):
    path = env_file(tmp_path, sink, SERVER_URL="http://127.0.0.1:9")
    result = run("--once", "--env-file", path, "--server-url", sink.url)
    assert result.returncode == 0 and len(sink.stored) == 1


def test_dry_run_prints_the_report_and_sends_nothing(sink, tmp_path):
    result = run("--dry-run", "--env-file", env_file(tmp_path, sink))
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["system"]["agent_version"] == __version__
    assert not sink.requests


def test_dry_run_needs_no_hub_configuration(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run("--dry-run", "--env-file", str(empty))
    assert result.returncode == 0 and json.loads(result.stdout)["cpu"]["count"] >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--interval", "fast"], "REPORT_INTERVAL: must be a number"),
        (["--no-mtls", "--api-key", ""], "API_KEY: missing"),
        (["--mtls"], "SERVER_URL: must start with https://"),
        (["--log-level", "loud"], "LOG_LEVEL: must be one of"),
    ],
)
def test_bad_configuration_exits_2_naming_the_variable(sink, tmp_path, args, message):
    result = run("run", "--env-file", env_file(tmp_path, sink), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_missing_explicit_env_file_is_an_error(tmp_path):
    result = run("run", "--env-file", str(tmp_path / "nope.env"))
    assert result.returncode == 2 and "--env-file" in result.stderr


def test_unusable_spool_dir_is_named(sink, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("run", "--env-file", env_file(tmp_path, sink), "--spool-dir", str(blocker / "spool"))
    assert result.returncode == 2 and "SPOOL_DIR: cannot use" in result.stderr


def test_sigterm_stops_the_daemon_promptly_and_cleanly(sink, tmp_path, start):
    log = tmp_path / "agent.log"
    process = start(log, "run", "--env-file", env_file(tmp_path, sink, REPORT_INTERVAL="10"))
    wait_for(lambda: "agent started" in log.read_text())
    time.sleep(0.2)  # now in the 10 s wait for the first collection
    started = time.monotonic()
    stderr = stop(process, log)
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 3
    assert "agent stopping; 0 report(s) left in the spool" in stderr


def test_sigterm_while_the_hub_is_down_keeps_reports_in_the_spool(sink, tmp_path, start):
    sink.stop()
    log = tmp_path / "agent.log"
    process = start(log, "run", "--env-file", env_file(tmp_path, sink, REPORT_INTERVAL="1"))
    wait_for(lambda: spooled(tmp_path) >= 2)
    stderr = stop(process, log)
    assert process.returncode == 0, stderr
    left = spooled(tmp_path)
    assert left >= 2 and f"agent stopping; {left} report(s) left in the spool" in stderr


def test_kill_9_loses_nothing_already_spooled_and_restart_delivers_it(sink, tmp_path, start):
    sink.stop()
    path = env_file(tmp_path, sink, REPORT_INTERVAL="1")
    log = tmp_path / "agent.log"
    process = start(log, "run", "--env-file", path)
    wait_for(lambda: spooled(tmp_path) >= 3)
    stop(process, log, signal.SIGKILL)
    survived = spooled(tmp_path)
    assert survived >= 3

    sink.start()
    process = start(log, "run", "--env-file", path)
    try:
        wait_for(lambda: len(sink.stored) >= survived + 1 and spooled(tmp_path) == 0)
    finally:
        stop(process, log)
    assert len(sink.delivered) == len(sink.stored)  # nothing sent twice


# What the daemon runs after main(): requests, then a text body that names no charset.
NO_DETECTOR = """
import sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from agent import cli
cli.main(["version"])
import requests

class Plain(BaseHTTPRequestHandler):
    def do_GET(self):
        body = "café ✓".encode()
        self.send_response(200)
        # No Content-Type: requests guesses the encoding (text/* without charset would be Latin-1).
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Plain)
threading.Thread(target=server.serve_forever, daemon=True).start()
text = requests.get(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5).text
detectors = [name for name in cli.CHARSET_DETECTORS if sys.modules.get(name) is not None]
print(repr(text), detectors)
"""


def test_the_agent_loads_no_charset_detector_and_reads_text_as_utf8():
    out = subprocess.run(
        [sys.executable, "-W", "default", "-c", NO_DETECTOR], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "'café ✓' []"
    assert "character detection" not in out.stderr  # requests' warning is expected, so silenced
