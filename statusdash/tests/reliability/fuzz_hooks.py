"""Schemathesis hooks for the fuzz runs (test_fuzz_openapi.py), loaded through the
SCHEMATHESIS_HOOKS variable.

Some of the hub's rules are beyond JSON Schema. NUL characters are refused anywhere in a
request (docs/reliability.md, "Hostile input"): such a refusal of a request that is otherwise
valid is not counted as a failure to accept valid data; any other refusal still is.

Two rules of a report (POST /api/metrics/report, and /validate) are beyond JSON Schema too: collected_at must lie within the
retention window, relative to now, and `host` may only name the sending agent's own host.
Generated reports that break only these are rightly refused, and reports from the year 2000
would leave storage unfuzzed. So before each call a well-formed collected_at (and a check
result's ran_at) becomes a recent time, distinct across the run (no report is a resend of another), and a `host` string becomes
the agent's own name; a malformed collected_at is left alone, as the negative case it is.
Schemathesis re-judges each case after this hook, so a case it makes valid must be accepted
(the positive_data_acceptance check).

After each call every report the hub answered 202 for is appended to FUZZ_ACCEPTED_LOG (when
set), one JSON line per request, for the test to hold against what the hub stored.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis

REPORT_PATH = "/api/metrics/report"
REPORT_PATHS = (REPORT_PATH, "/api/metrics/validate")
AGENT_HOST = os.environ.get("FUZZ_AGENT_HOST", "")
ACCEPTED_LOG = os.environ.get("FUZZ_ACCEPTED_LOG", "")

# Counting back a millisecond at a time from the start of the run keeps every time distinct
# and within minutes of now however long the run takes.
_START = datetime.now(UTC) - timedelta(seconds=1)
_sequence = itertools.count()
_lock = threading.Lock()  # schemathesis calls from several worker threads


def reports_in(body: Any) -> list[dict[str, Any]]:
    """The report objects in a body of either form (one report, or {"reports": [...]})."""
    if not isinstance(body, dict):
        return []
    batch = body.get("reports")
    if isinstance(batch, list):
        return [report for report in batch if isinstance(report, dict)]
    return [body]


def well_formed_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def recent_time() -> str:
    with _lock:
        step = next(_sequence)
    return (_START - timedelta(milliseconds=step)).isoformat()


def refused_only_for_nul(response: Any) -> bool:
    """The hub's answer to a NUL in the body (422) or in the URL (400), and to nothing else."""
    if response.status_code not in (400, 422):
        return False
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return False
    if isinstance(detail, str):
        return detail.startswith("NUL characters (%00) are not allowed")
    return bool(detail) and all(error.get("msg") == "NUL characters (\\u0000) are not allowed" for error in detail)


def refused_only_for_cursor_or_regex(response: Any) -> bool:
    """A 422 beyond JSON Schema: a cursor a list never gave (cursors are opaque, statusdash/lib/cursor.py:
    only one a page answered is valid), or a matcher's regular expression that does not compile."""
    if response.status_code != 422:
        return False
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return False
    return (
        isinstance(detail, list)
        and bool(detail)
        and all(
            e.get("loc") == ["query", "cursor"] or "not a regular expression" in str(e.get("msg", "")) for e in detail
        )
    )


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a valid request refused for the NUL it carries, a made-up cursor or a broken regex."""
    return not (
        failure.code == "ST202" and (refused_only_for_nul(response) or refused_only_for_cursor_or_regex(response))
    )


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path not in REPORT_PATHS or not AGENT_HOST:
        return
    for report in reports_in(case.body):
        if well_formed_time(report.get("collected_at")):
            report["collected_at"] = recent_time()
        if isinstance(report.get("host"), str):
            report["host"] = AGENT_HOST
        # Check results carry their own run time, held to the same window.
        results = report.get("checks")
        for result in results if isinstance(results, list) else ():
            if isinstance(result, dict) and well_formed_time(result.get("ran_at")):
                result["ran_at"] = recent_time()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if case.operation.path != REPORT_PATH or response.status_code != 202 or not ACCEPTED_LOG:
        return
    line = json.dumps({"reports": reports_in(case.body), "answer": response.json()})
    with _lock, open(ACCEPTED_LOG, "a") as log:
        log.write(line + "\n")
