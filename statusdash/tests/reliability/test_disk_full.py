"""The disk under DATA_DIR fills up: ingest answers 503 with a reason, then recovers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from statusdash.tests.reliability.conftest import as_utc, prepare_standalone, standalone_env, stored_reports
from statusdash.tests.support import sample_report

ROOMY = 64 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of its own for DATA_DIR, so filling it harms nothing else."""
    mount_point = tmp_path / "hub-data"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={ROOMY}", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must be able to mount a tmpfs: {mounted.stderr.decode().strip()}")
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def resize(mount_point: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_point)], check=True)


def batch(start: datetime, count: int) -> dict[str, Any]:
    return {"reports": [sample_report(start + timedelta(milliseconds=i)) for i in range(count)]}


def test_full_disk_is_a_503_with_a_reason_and_ingest_recovers_when_space_returns(
    small_disk: Path, start_hub: Any
) -> None:
    env = standalone_env(small_disk)
    keys = prepare_standalone(env, ["disk-1"])
    hub = start_hub(env)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {keys['agents']['disk-1']}"
    url = f"{hub.url}/api/metrics/report"
    assert session.post(url, json=sample_report(), timeout=10).status_code == 202

    # Leave about 1 MiB free: a few batches fill it.
    resize(small_disk, shutil.disk_usage(small_disk).used + 1024 * 1024)
    start = datetime.now(UTC) - timedelta(hours=1)
    refused = None
    for attempt in range(60):
        body = batch(start + timedelta(seconds=attempt), 200)
        response = session.post(url, json=body, timeout=30)
        if response.status_code != 202:
            refused = (response, body)
            break
    assert refused is not None, "the disk never filled"
    response, body = refused
    assert response.status_code == 503
    assert "database or disk is full" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    # The hub is still up and says what it can.
    assert requests.get(f"{hub.url}/health", timeout=10).status_code in (200, 503)
    # Nothing of the refused batch was half-written.
    refused_stamps = {as_utc(r["collected_at"]) for r in body["reports"]}
    assert refused_stamps.isdisjoint(stored_reports(small_disk)["disk-1"])

    resize(small_disk, ROOMY)
    retried = session.post(url, json=body, timeout=30)
    assert retried.status_code == 202, retried.text
    assert retried.json() == {"accepted": 200, "duplicates": 0}
    assert session.post(url, json=sample_report(), timeout=10).status_code == 202
    assert hub.process.poll() is None
    # Django logs every 5xx answer at error level; the 503s were the point.
    assert [line for line in hub.trouble() if "status_code=503" not in line] == []
