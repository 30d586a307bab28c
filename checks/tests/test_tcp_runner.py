from __future__ import annotations

from checks.models import CheckState
from checks.runners import tcp


def test_listening_port_is_ok(make_check, tcp_listener):
    outcome = tcp.run(make_check("tcp", f"127.0.0.1:{tcp_listener}"))
    assert outcome.state == CheckState.OK
    assert outcome.latency_ms is not None


def test_closed_port_is_critical(make_check, closed_port):
    outcome = tcp.run(make_check("tcp", f"127.0.0.1:{closed_port}"))
    assert outcome.state == CheckState.CRITICAL
    assert "refused" in outcome.message.lower()
