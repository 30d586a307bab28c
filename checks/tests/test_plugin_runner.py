from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from checks.models import CheckState
from checks.runners import plugin

PLUGINS = "/usr/lib/nagios/plugins"
needs_plugins = pytest.mark.needs_tool(f"{PLUGINS}/check_dummy", "monitoring-plugins-basic")


@needs_plugins
@pytest.mark.parametrize(
    ("code", "state"),
    [("0", CheckState.OK), ("1", CheckState.WARNING), ("2", CheckState.CRITICAL), ("3", CheckState.UNKNOWN)],
)
def test_exit_codes_map_to_states(make_check, code, state):
    outcome = plugin.run(make_check("plugin", f"{PLUGINS}/check_dummy", options={"args": [code, "the text"]}))
    assert outcome.state == state
    assert outcome.message.endswith("the text")


@needs_plugins
def test_check_tcp_reports_latency_from_perfdata(make_check, tcp_listener):
    options = {"args": ["-H", "127.0.0.1", "-p", str(tcp_listener)]}
    outcome = plugin.run(make_check("plugin", f"{PLUGINS}/check_tcp", options=options))
    assert outcome.state == CheckState.OK
    assert outcome.latency_ms is not None
    assert "|" not in outcome.message


@needs_plugins
def test_check_tcp_on_closed_port_is_critical(make_check, closed_port):
    options = {"args": ["-H", "127.0.0.1", "-p", str(closed_port)]}
    assert plugin.run(make_check("plugin", f"{PLUGINS}/check_tcp", options=options)).state == CheckState.CRITICAL


@needs_plugins
def test_check_http_against_local_server(make_check, http_server):
    port = http_server.rsplit(":", 1)[1]
    options = {"args": ["-H", "127.0.0.1", "-p", port, "-u", "/good", "-s", "all systems go"]}
    outcome = plugin.run(make_check("plugin", f"{PLUGINS}/check_http", options=options))
    assert outcome.state == CheckState.OK
    assert outcome.latency_ms is not None


def write_plugin(directory: Path, name: str, script: str) -> str:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def own_plugin_dir(tmp_path: Path, settings) -> Path:
    settings.CHECK_PLUGIN_DIRS = [str(tmp_path)]
    return tmp_path


def test_plugin_printing_megabytes_is_capped(make_check, own_plugin_dir):
    target = write_plugin(
        own_plugin_dir, "chatty", "echo 'OK - fine'\nhead -c 20000000 /dev/zero | tr '\\0' x\nexit 0\n"
    )
    started = time.monotonic()
    outcome = plugin.run(make_check("plugin", target, timeout=20))
    assert outcome.state == CheckState.OK
    assert outcome.message == "OK - fine"
    assert time.monotonic() - started < 20


def test_plugin_that_never_exits_is_killed_at_the_timeout(make_check, own_plugin_dir):
    target = write_plugin(own_plugin_dir, "sleeper", "sleep 600 &\nwait\n")
    started = time.monotonic()
    outcome = plugin.run(make_check("plugin", target, timeout=1))
    assert outcome.state == CheckState.UNKNOWN
    assert "did not finish within 1 s" in outcome.message
    assert time.monotonic() - started < 5


def test_unexpected_exit_code_is_unknown(make_check, own_plugin_dir):
    target = write_plugin(own_plugin_dir, "odd", "echo strange\nexit 7\n")
    outcome = plugin.run(make_check("plugin", target))
    assert (outcome.state, outcome.message) == (CheckState.UNKNOWN, "exit code 7: strange")


def test_link_leading_outside_the_directories_is_refused(make_check, own_plugin_dir):
    os.symlink("/bin/sh", own_plugin_dir / "sh")
    outcome = plugin.run(make_check("plugin", str(own_plugin_dir / "sh")))
    assert outcome.state == CheckState.UNKNOWN
    assert "leads outside the plugin directories" in outcome.message


def test_arguments_reach_the_plugin_without_a_shell(make_check, own_plugin_dir):
    target = write_plugin(own_plugin_dir, "echoer", 'echo "OK - $1"\n')
    outcome = plugin.run(make_check("plugin", target, options={"args": ["$(touch /tmp/x); `id`"]}))
    assert outcome.message == "OK - $(touch /tmp/x); `id`"
