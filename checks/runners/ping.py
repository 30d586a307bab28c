"""Ping (ICMP echo) through icmplib: privileged (raw socket) as root, else unprivileged datagram sockets,
which Linux allows to the groups in net.ipv4.ping_group_range."""

from __future__ import annotations

import os

from icmplib import ping
from icmplib.exceptions import ICMPLibError

from checks.models import Check, CheckState, Outcome
from checks.options import PingOptions


def run(check: Check) -> Outcome:
    options = check.parsed_options()
    assert isinstance(options, PingOptions)
    # Each echo waits at most this long, so that `count` of them fit in the check's timeout.
    per_echo = max(0.2, check.timeout / options.count)
    try:
        host = ping(
            check.target,
            count=options.count,
            interval=0.2,
            timeout=per_echo,
            privileged=os.geteuid() == 0,
        )
    except ICMPLibError as error:
        return Outcome(CheckState.CRITICAL, f"{type(error).__name__}: {error}")
    except PermissionError:
        return Outcome(CheckState.UNKNOWN, "not allowed to ping: widen net.ipv4.ping_group_range for this user")
    if not host.is_alive:
        return Outcome(CheckState.CRITICAL, f"{check.target}: no echo reply ({options.count} sent)")
    message = f"{host.packets_received}/{host.packets_sent} replies, rtt avg {host.avg_rtt:.2f} ms"
    state = CheckState.WARNING if host.packet_loss > 0 else CheckState.OK
    return Outcome(state, message, round(host.avg_rtt, 2))
