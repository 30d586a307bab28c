from __future__ import annotations

from checks.models import CheckState
from checks.runners import dns


def test_name_resolves_to_expected_answer(make_check, dns_server):
    options = {"resolver": f"127.0.0.1:{dns_server}", "expected": "127.0.0.9"}
    outcome = dns.run(make_check("dns", "check.test", options=options))
    assert (outcome.state, outcome.message) == (CheckState.OK, "A 127.0.0.9")


def test_other_answer_is_critical(make_check, dns_server):
    options = {"resolver": f"127.0.0.1:{dns_server}", "expected": "127.0.0.1"}
    outcome = dns.run(make_check("dns", "check.test", options=options))
    assert outcome.state == CheckState.CRITICAL
    assert "expected 127.0.0.1" in outcome.message


def test_txt_record(make_check, dns_server):
    options = {"resolver": f"127.0.0.1:{dns_server}", "record_type": "TXT", "expected": '"hello from dnsmasq"'}
    assert dns.run(make_check("dns", "check.test", options=options)).state == CheckState.OK


def test_unknown_name_is_critical(make_check, dns_server):
    options = {"resolver": f"127.0.0.1:{dns_server}"}
    outcome = dns.run(make_check("dns", "missing.example.invalid", options=options, timeout=2))
    assert outcome.state == CheckState.CRITICAL


def test_silent_resolver_times_out(make_check, closed_port):
    options = {"resolver": f"127.0.0.1:{closed_port}"}
    outcome = dns.run(make_check("dns", "check.test", options=options, timeout=1))
    assert outcome.state == CheckState.CRITICAL
