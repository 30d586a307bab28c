from __future__ import annotations

from checks.models import CheckState
from checks.runners import ping


def test_loopback_answers(make_check):
    outcome = ping.run(make_check("ping", "127.0.0.1", options={"count": 2}, timeout=2))
    assert outcome.state == CheckState.OK
    assert outcome.latency_ms is not None
    assert outcome.message.startswith("2/2 replies")
