"""Nagios-compatible plugins: a subprocess (never a shell), its exit code and first line.

Exit 0/1/2/3 is ok/warning/critical/unknown; the first line before `|` is the message,
and the performance data after it gives the latency when it has a time (`time=0.01s`).
Output past OUTPUT_LIMIT is read and thrown away, so a chatty plugin neither blocks on a
full pipe nor fills the worker's memory; at the timeout its whole process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import time

from django.conf import settings

from checks.models import Check, CheckState, Outcome
from checks.options import PluginOptions
from checks.targets import is_inside, validate_plugin_path

OUTPUT_LIMIT = 64 * 1024
EXIT_STATES = {0: CheckState.OK, 1: CheckState.WARNING, 2: CheckState.CRITICAL, 3: CheckState.UNKNOWN}
# label=value[unit];warn;crit;min;max  (labels may be quoted)
PERFDATA = re.compile(r"""('[^']+'|[^\s=']+)=(-?[\d.]+)(us|ms|s)?""")
TIME_LABELS = ("time", "rta", "response_time", "latency")
UNIT_MS = {"s": 1000.0, "ms": 1.0, "us": 0.001}


def run(check: Check) -> Outcome:
    options = check.parsed_options()
    assert isinstance(options, PluginOptions)
    validate_plugin_path(check.target, settings.CHECK_PLUGIN_DIRS)
    # Checked again here with links resolved: a link inside the directory may point anywhere.
    real = os.path.realpath(check.target)
    if not is_inside(real, settings.CHECK_PLUGIN_DIRS):
        return Outcome(CheckState.UNKNOWN, f"{check.target} leads outside the plugin directories ({real})")
    if not os.access(real, os.X_OK) or not os.path.isfile(real):
        return Outcome(CheckState.UNKNOWN, f"{check.target} is not an executable file")
    output, code = run_capped([check.target, *options.args], check.timeout)
    if code is None:
        return Outcome(CheckState.UNKNOWN, f"the plugin did not finish within {check.timeout:g} s (killed)")
    state = EXIT_STATES.get(code, CheckState.UNKNOWN)
    text, latency = parse_output(output)
    if code not in EXIT_STATES:
        text = f"exit code {code}: {text}"
    return Outcome(state, text, latency)


def run_capped(argv: list[str], timeout: float) -> tuple[bytes, int | None]:
    """The first OUTPUT_LIMIT bytes of stdout and stderr and the exit code (None: killed at the timeout)."""
    deadline = time.monotonic() + timeout
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a timeout kills what it started too
        close_fds=True,
    )
    assert process.stdout is not None
    kept = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                kill_group(process)
                return bytes(kept), None
            if not selector.select(timeout=left):
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            if len(kept) < OUTPUT_LIMIT:
                kept += chunk[: OUTPUT_LIMIT - len(kept)]
    process.stdout.close()
    try:
        code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:  # closed its output but kept running
        kill_group(process)
        return bytes(kept), None
    return bytes(kept), code


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def parse_output(output: bytes) -> tuple[str, float | None]:
    """The first line's text, and a latency in ms from its performance data if it has one."""
    first = output.decode("utf-8", errors="replace").split("\n", 1)[0].strip()
    text, _, perfdata = first.partition("|")
    return text.strip() or "(no output)", latency_from(perfdata)


def latency_from(perfdata: str) -> float | None:
    for label, value, unit in PERFDATA.findall(perfdata):
        if label.strip("'").lower() in TIME_LABELS and unit:
            try:
                return round(float(value) * UNIT_MS[unit], 3)
            except ValueError:
                return None
    return None
