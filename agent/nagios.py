"""The Nagios plugin protocol, shared by the agent's probes and the hub's plugin runner.

A plugin runs as a subprocess (never through a shell) in its own process group, killed with
everything it started at the timeout; its exit code 0/1/2/3 is ok/warning/critical/unknown;
the first line before `|` is the message, and the performance data after it gives the
latency when it has a time (`time=0.01s`). Output past OUTPUT_LIMIT is read and thrown away,
so a chatty plugin neither blocks on a full pipe nor fills the caller's memory.

Standard library only: the agent ships it alone and the hub imports it (checks/runners/plugin.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import time

OK, WARNING, CRITICAL, UNKNOWN = "ok", "warning", "critical", "unknown"
EXIT_STATES = {0: OK, 1: WARNING, 2: CRITICAL, 3: UNKNOWN}
OUTPUT_LIMIT = 64 * 1024
# label=value[unit];warn;crit;min;max  (labels may be quoted)
PERFDATA = re.compile(r"""('[^']+'|[^\s=']+)=(-?[\d.]+)(us|ms|s)?""")
TIME_LABELS = ("time", "rta", "response_time", "latency")
UNIT_MS = {"s": 1000.0, "ms": 1.0, "us": 0.001}


def run_capped(argv: list[str], timeout: float) -> tuple[bytes, int | None]:
    """The first OUTPUT_LIMIT bytes of stdout and stderr and the exit code (None: killed at
    the timeout). A program that cannot start is exit code 3 (unknown) saying why."""
    deadline = time.monotonic() + timeout
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout kills what it started too
            close_fds=True,
        )
    except OSError as error:
        return f"cannot start {argv[0]}: {error.strerror or error}".encode(), 3
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
