"""HTTP(S): status code, keyword, JSON value; latency is the whole exchange."""

from __future__ import annotations

import functools
import ssl
import time

import httpx

from agent.http_expect import judge
from checks.models import Check, CheckState, Outcome
from checks.options import HttpOptions
from checks.runners.common import elapsed_ms

# A body larger than this is read only this far for the keyword and JSON checks.
BODY_LIMIT = 1024 * 1024


@functools.cache
def tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per verify setting for every run (contexts are safe to share between
    threads). Building one loads the CA bundle: 39 ms of CPU, which was nearly all of an HTTP
    check's cost when each run built its own (docs/benchmarks.md, "Service checks on the hub")."""
    return httpx.create_ssl_context(verify=verify)


def run(check: Check) -> Outcome:
    options = check.parsed_options()
    assert isinstance(options, HttpOptions)
    headers = dict(options.headers)
    if check.bearer_token:
        headers["Authorization"] = f"Bearer {check.bearer_token}"
    auth = httpx.BasicAuth(check.username, check.password) if check.username else None
    started = time.perf_counter()
    try:
        with (
            httpx.Client(
                timeout=check.timeout,
                follow_redirects=options.follow_redirects,
                verify=tls_context(options.verify_tls),
                headers={"User-Agent": "statusdash-check", **headers},
                auth=auth,
                trust_env=False,  # a proxy from the worker's environment would change what is measured
            ) as client,
            client.stream(options.method, check.target, content=options.body or None) as response,
        ):
            body = read_limited(response)
            latency = elapsed_ms(started)
    except httpx.TimeoutException:
        return Outcome(CheckState.CRITICAL, f"no answer within {check.timeout:g} s")
    except httpx.HTTPError as error:
        return Outcome(CheckState.CRITICAL, f"{type(error).__name__}: {error}")
    # The same judge as the agents' (agent/http_expect.py), on the options as JSON.
    problem = judge(options.model_dump(), response.status_code, body)
    if problem:
        return Outcome(CheckState.CRITICAL, problem, latency)
    return Outcome(CheckState.OK, f"HTTP {response.status_code}", latency)


def read_limited(response: httpx.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= BODY_LIMIT:
            break
    return bytes(body[:BODY_LIMIT])
