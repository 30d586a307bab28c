"""HTTP(S): status code, keyword, JSON value; latency is the whole exchange."""

from __future__ import annotations

import functools
import json
import ssl
import time
from typing import Any

import httpx

from checks.models import Check, CheckState, Outcome
from checks.options import HttpOptions
from checks.runners.common import elapsed_ms

# A body larger than this is read only this far for the keyword and JSON checks.
BODY_LIMIT = 1024 * 1024
NOT_FOUND = object()


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
    problem = judge(options, response.status_code, body)
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


def judge(options: HttpOptions, status: int, body: bytes) -> str:
    """What is wrong with the answer, or "" when it is what the check expects."""
    if options.expect_status:
        if status not in options.expect_status:
            wanted = ", ".join(str(s) for s in options.expect_status)
            return f"HTTP {status}, expected {wanted}"
    elif not 200 <= status < 400:
        return f"HTTP {status}"
    text = body.decode("utf-8", errors="replace")
    if options.keyword:
        found = options.keyword in text
        if found and options.keyword_absent:
            return f"HTTP {status}, but {options.keyword!r} is in the body"
        if not found and not options.keyword_absent:
            return f"HTTP {status}, but {options.keyword!r} is not in the body"
    if options.json_path:
        try:
            document = json.loads(text)
        except ValueError:
            return f"HTTP {status}, but the body is not JSON"
        value = json_path(document, options.json_path)
        if value is NOT_FOUND:
            return f"HTTP {status}, but the JSON has no {options.json_path}"
        if options.json_expected and as_text(value) != options.json_expected:
            return f"{options.json_path} is {as_text(value)!r}, expected {options.json_expected!r}"
    return ""


def json_path(document: Any, path: str) -> Any:
    """The value at a dotted path ("checks.0.state"); NOT_FOUND when there is none."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return NOT_FOUND
    return value


def as_text(value: Any) -> str:
    """A JSON value as the user would write it: true, 3, ok (strings without quotes)."""
    return value if isinstance(value, str) else json.dumps(value)
