"""Run a check once, wherever it is: one module per kind, each `run(check) -> Outcome`.

Runners touch the network (or a subprocess) and nothing else: no database, so the
scheduler can run many in threads and store their outcomes from one thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from checks.models import Check, CheckKind, CheckState, Outcome
from checks.runners import dns, http, ping, plugin, tcp, tls

log = logging.getLogger("statusdash.checks")

RUNNERS: dict[str, Callable[[Check], Outcome]] = {
    CheckKind.HTTP: http.run,
    CheckKind.TCP: tcp.run,
    CheckKind.TLS: tls.run,
    CheckKind.DNS: dns.run,
    CheckKind.PING: ping.run,
    CheckKind.PLUGIN: plugin.run,
}


def run(check: Check) -> Outcome:
    """One run of `check`. Never raises: a runner's own bug is an `unknown` result saying so."""
    try:
        return RUNNERS[check.kind](check)
    except Exception as error:
        log.exception("check runner failed", extra={"check": check.name})
        return Outcome(CheckState.UNKNOWN, f"the runner failed: {type(error).__name__}: {error}")
