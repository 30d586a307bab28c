"""TCP: can a connection be opened? Latency is the connect time."""

from __future__ import annotations

import socket
import time

from checks.models import Check, CheckState, Outcome
from checks.runners.common import elapsed_ms
from checks.targets import split_host_port


def run(check: Check) -> Outcome:
    host, port = split_host_port(check.target)
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=check.timeout):
            latency = elapsed_ms(started)
    except TimeoutError:
        return Outcome(CheckState.CRITICAL, f"no answer from {host}:{port} within {check.timeout:g} s")
    except OSError as error:
        return Outcome(CheckState.CRITICAL, f"{host}:{port}: {error.strerror or error}")
    return Outcome(CheckState.OK, f"connected to {host}:{port}", latency)
