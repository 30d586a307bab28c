"""Fuzz every API operation from the hub's own OpenAPI document, against a real Daphne,
with valid credentials: no 5xx, every answer as the document describes it, every valid
request accepted, and every report the hub accepted stored as it was sent.

Runs the schemathesis command line (its pytest loader does not work with pytest 9 yet):
once as an agent for the report endpoint, once as a dashboard reader for the rest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from metrics.schemas import ReportIn
from statusdash.tests.reliability import stored
from statusdash.tests.reliability.conftest import Hub

EXAMPLES = os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "100")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
# About 70 operations at 100 examples each as a reader took over 400 s on a loaded 2-core machine.
FUZZ_SECONDS = 900

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(FUZZ_SECONDS + 60)]


def fuzz(hub: Hub, key: str, tmp_path: Path, *filters: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{hub.url}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {key}",
            "--max-examples",
            EXAMPLES,
            "--checks",
            "all",
            # Several credentials are alternatives (session, bearer, X-API-Key): a valid bearer
            # with a junk X-API-Key is rightly accepted, which this check counts as a failure.
            "--exclude-checks",
            "ignored_auth",
            "--seed",
            "9",
            # One worker: with two, hypothesis parses lambdas' source with ast.parse in two threads
            # at once, which CPython 3.11.7 can fail with "SystemError: AST constructor recursion
            # depth mismatch" (fixed in later 3.11 releases); it broke a CI run.
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
            "--report-dir",
            str(tmp_path),
            *filters,
        ],
        cwd=tmp_path,  # schemathesis keeps a cache directory where it runs
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), **(env or {})},
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


def generated(output: str) -> int:
    match = re.search(r"(\d+) generated", output)
    return int(match.group(1)) if match else 0


def test_report_endpoint_survives_fuzzing_as_an_agent_and_stores_what_it_accepts(
    shared_hub: tuple[Hub, dict[str, Any]], tmp_path: Path
) -> None:
    hub, keys = shared_hub
    accepted_log = tmp_path / "accepted.jsonl"
    hooks = {"FUZZ_AGENT_HOST": "web-2", "FUZZ_ACCEPTED_LOG": str(accepted_log)}
    output = fuzz(hub, keys["agents"]["web-2"], tmp_path, "--include-path", "/api/metrics/report", env=hooks)
    accepted = [json.loads(line) for line in accepted_log.read_text().splitlines()] if accepted_log.exists() else []
    sent = [report for request in accepted for report in request["reports"]]
    print(f"\nfuzz (agent): {generated(output)} test cases, {len(accepted)} accepted with {len(sent)} reports")
    assert generated(output) > 0
    assert len(sent) >= 20, "too few valid reports to say storage was fuzzed"

    # Every report carried a time of its own (fuzz_hooks.py): each accepted one is new.
    for request in accepted:
        answer = request["answer"]
        assert (answer["accepted"], answer["duplicates"]) == (len(request["reports"]), 0), answer
        # Results for checks nobody assigned to this host (the fuzzer makes up their ids) are
        # ignored and counted, never stored.
        assert answer.get("checks_accepted") in (None, 0), answer
    samples = stored.samples(hub.env, "web-2")
    expected = {datetime.fromisoformat(report["collected_at"]).astimezone(UTC): report for report in sent}
    assert set(samples) == set(expected), "stored samples are not exactly the accepted reports"
    for collected_at, report in expected.items():
        valid = ReportIn.model_validate(report).model_dump(mode="json")
        sample = samples[collected_at]
        assert sample.cpu_percent == valid["cpu"]["percent"]
        assert sample.memory_percent == valid["memory"]["percent"]
        assert sample.disk_percent == max((disk["percent"] for disk in valid["disks"]), default=0.0)
        assert sample.detail == {
            "per_core": valid["cpu"]["per_core"],
            "memory": valid["memory"],
            "swap": valid["swap"],
            "disks": valid["disks"],
            "network": valid["network"],
            "temperatures": valid["temperatures"],
        }, collected_at


def test_every_other_operation_survives_fuzzing_as_a_reader(
    shared_hub: tuple[Hub, dict[str, Any]], tmp_path: Path
) -> None:
    hub, keys = shared_hub
    output = fuzz(
        hub, keys["read"], tmp_path, "--exclude-path", "/api/metrics/report", env={"FUZZ_AGENT_HOST": "web-2"}
    )
    print(f"\nfuzz (reader): {generated(output)} test cases")
    assert generated(output) > 0
