from __future__ import annotations

from checks.models import CheckState
from checks.runners import tls


def test_certificate_expiring_in_five_days_is_critical_by_default(make_check, tls_server):
    port, _ = tls_server
    outcome = tls.run(make_check("tls", f"127.0.0.1:{port}", options={"verify": False}))
    assert outcome.state == CheckState.CRITICAL
    assert "(4.9 days)" in outcome.message or "(5.0 days)" in outcome.message


def test_certificate_within_warning_days_is_warning(make_check, tls_server):
    port, _ = tls_server
    check = make_check("tls", f"127.0.0.1:{port}", options={"verify": False, "warn_days": 10, "critical_days": 3})
    assert tls.run(check).state == CheckState.WARNING


def test_certificate_far_from_thresholds_is_ok(make_check, tls_server):
    port, _ = tls_server
    check = make_check("tls", f"127.0.0.1:{port}", options={"verify": False, "warn_days": 2, "critical_days": 1})
    outcome = tls.run(check)
    assert outcome.state == CheckState.OK
    assert outcome.latency_ms is not None


def test_certificate_from_unknown_ca_is_critical_when_verified(make_check, tls_server):
    port, _ = tls_server
    outcome = tls.run(make_check("tls", f"127.0.0.1:{port}"))
    assert outcome.state == CheckState.CRITICAL
    assert "not trusted" in outcome.message


def test_closed_port_is_critical(make_check, closed_port):
    assert tls.run(make_check("tls", f"127.0.0.1:{closed_port}")).state == CheckState.CRITICAL
