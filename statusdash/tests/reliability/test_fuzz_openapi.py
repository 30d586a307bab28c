"""Fuzz every API operation from the hub's own OpenAPI document, against a real Daphne,
with valid credentials: no 5xx, and every answer as the document describes it.

Runs the schemathesis command line (its pytest loader does not work with pytest 9 yet):
once as an agent for the report endpoint, once as a dashboard reader for the rest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from statusdash.tests.reliability.conftest import Hub

pytestmark = pytest.mark.reliability

EXAMPLES = os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "100")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def fuzz(hub: Hub, key: str, tmp_path: Path, *filters: str) -> str:
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
            # And collected_at must lie within the retention window, relative to now, which
            # JSON Schema cannot say: schema-valid reports from the year 2000 are rightly refused.
            "--exclude-checks",
            "ignored_auth,positive_data_acceptance",
            "--seed",
            "9",
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--no-color",
            "--report-dir",
            str(tmp_path),
            *filters,
        ],
        cwd=tmp_path,  # schemathesis keeps a cache directory where it runs
        capture_output=True,
        text=True,
        timeout=400,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


def generated(output: str) -> int:
    match = re.search(r"(\d+) generated", output)
    return int(match.group(1)) if match else 0


def test_report_endpoint_survives_fuzzing_as_an_agent(shared_hub: tuple[Hub, dict[str, Any]], tmp_path: Path) -> None:
    hub, keys = shared_hub
    output = fuzz(hub, keys["agents"]["web-2"], tmp_path, "--include-path", "/api/metrics/report")
    print(f"\nfuzz (agent): {generated(output)} test cases")
    assert generated(output) > 0


def test_every_other_operation_survives_fuzzing_as_a_reader(
    shared_hub: tuple[Hub, dict[str, Any]], tmp_path: Path
) -> None:
    hub, keys = shared_hub
    output = fuzz(hub, keys["read"], tmp_path, "--exclude-path", "/api/metrics/report")
    print(f"\nfuzz (reader): {generated(output)} test cases")
    assert generated(output) > 0
