"""DNS: does the name resolve (to the expected answer), through the system's or a given resolver?"""

from __future__ import annotations

import time

import dns.exception
import dns.resolver

from checks.models import Check, CheckState, Outcome
from checks.options import DnsOptions
from checks.runners.common import elapsed_ms
from checks.targets import split_host_port


def run(check: Check) -> Outcome:
    options = check.parsed_options()
    assert isinstance(options, DnsOptions)
    resolver = make_resolver(options.resolver)
    started = time.perf_counter()
    try:
        answer = resolver.resolve(check.target, options.record_type, lifetime=check.timeout, search=False)
    except dns.resolver.NXDOMAIN:
        return Outcome(CheckState.CRITICAL, f"{check.target} does not exist (NXDOMAIN)", elapsed_ms(started))
    except dns.resolver.NoAnswer:
        return Outcome(CheckState.CRITICAL, f"{check.target} has no {options.record_type} record", elapsed_ms(started))
    except dns.exception.Timeout:
        return Outcome(CheckState.CRITICAL, f"no DNS answer within {check.timeout:g} s")
    except dns.exception.DNSException as error:
        return Outcome(CheckState.CRITICAL, f"{type(error).__name__}: {error}")
    latency = elapsed_ms(started)
    answers = [record.to_text() for record in answer]
    shown = ", ".join(answers)[:300]
    if options.expected and options.expected not in answers and f"{options.expected}." not in answers:
        return Outcome(CheckState.CRITICAL, f"{options.record_type} {shown}, expected {options.expected}", latency)
    return Outcome(CheckState.OK, f"{options.record_type} {shown}", latency)


def make_resolver(address: str) -> dns.resolver.Resolver:
    if not address:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    host, port = split_host_port(address, default_port=53)
    resolver.nameservers = [host]
    resolver.port = port
    return resolver
