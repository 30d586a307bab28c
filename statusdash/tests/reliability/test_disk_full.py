"""The disk under the database fills up: ingest answers 503 with a reason, then recovers.

SQLite: DATA_DIR on a small tmpfs. PostgreSQL: the hub's database in a tablespace on a
small tmpfs (the server must run on this machine; its WAL stays on its own disk, as when
a separate data volume fills).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from psycopg import sql

from statusdash.tests.reliability.conftest import (
    ENGINE,
    as_utc,
    drop_postgres_database,
    postgres_admin,
    prepare_standalone,
    standalone_env,
    stored_reports,
)
from statusdash.tests.support import sample_report

ROOMY = 64 * 1024 * 1024
# What each engine says when it cannot grow a file; the hub passes it on in the 503.
DISK_FULL = {"sqlite": "database or disk is full", "postgresql": "No space left on device"}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def mount_tmpfs(mount_point: Path, *options: str) -> None:
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join([f"size={ROOMY}", *options]), "tmpfs", str(mount_point)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        reason = mounted.stderr.decode().strip()
        if in_ci():
            pytest.fail(f"CI must be able to mount a tmpfs: {reason}")
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {reason}")


@dataclass
class SmallDisk:
    """A tmpfs that holds the hub's database, and the environment of a hub using it."""

    mount_point: Path
    env: dict[str, str]

    def leave_free(self, free: int) -> None:
        self._resize(shutil.disk_usage(self.mount_point).used + free)

    def make_roomy(self) -> None:
        self._resize(ROOMY)

    def _resize(self, size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.mount_point)], check=True)


def sqlite_small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount_point = tmp_path / "hub-data"
    mount_point.mkdir()
    mount_tmpfs(mount_point)
    try:
        yield SmallDisk(mount_point, standalone_env(mount_point))
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def postgres_small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with postgres_admin() as admin:
        row = admin.execute("SHOW data_directory").fetchone()
    data_directory = Path(row[0]) if row else Path("/nonexistent")
    if not data_directory.exists():
        message = f"the PostgreSQL server is not on this machine ({data_directory} is not here): no tablespace to fill"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    owner = data_directory.stat()
    # Outside tmp_path: the server's user must reach it, and pytest's directories are root's alone.
    mount_point = Path(tempfile.mkdtemp(prefix="statusdash-tablespace-"))
    mount_tmpfs(mount_point, f"uid={owner.st_uid}", f"gid={owner.st_gid}", "mode=0700")
    tablespace = mount_point.name.replace("-", "_")
    env: dict[str, str] = {}
    try:
        with postgres_admin() as admin:
            admin.execute(
                sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                    sql.Identifier(tablespace), sql.Literal(str(mount_point))
                )
            )
        env = standalone_env(tmp_path / "hub-data", tablespace=tablespace)
        yield SmallDisk(mount_point, env)
    finally:
        if env:
            drop_postgres_database(env["DATABASE_URL"].rsplit("/", 1)[1])
        with postgres_admin() as admin:
            admin.execute(sql.SQL("DROP TABLESPACE IF EXISTS {}").format(sql.Identifier(tablespace)))
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    yield from (postgres_small_disk if ENGINE == "postgresql" else sqlite_small_disk)(tmp_path)


def batch(start: datetime, count: int) -> dict[str, Any]:
    return {"reports": [sample_report(start + timedelta(milliseconds=i)) for i in range(count)]}


def test_full_disk_is_a_503_with_a_reason_and_ingest_recovers_when_space_returns(
    small_disk: SmallDisk, start_hub: Any
) -> None:
    env = small_disk.env
    keys = prepare_standalone(env, ["disk-1"])
    hub = start_hub(env)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {keys['agents']['disk-1']}"
    url = f"{hub.url}/api/metrics/report"
    assert session.post(url, json=sample_report(), timeout=10).status_code == 202

    # Leave about 1 MiB free: a few batches fill it.
    small_disk.leave_free(1024 * 1024)
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
    assert response.status_code == 503, response.text
    assert DISK_FULL[ENGINE] in response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    # The hub is still up and says what it can.
    assert requests.get(f"{hub.url}/health", timeout=10).status_code in (200, 503)
    # Nothing of the refused batch was half-written.
    refused_stamps = {as_utc(r["collected_at"]) for r in body["reports"]}
    assert refused_stamps.isdisjoint(stored_reports(env)["disk-1"])

    small_disk.make_roomy()
    retried = session.post(url, json=body, timeout=30)
    assert retried.status_code == 202, retried.text
    assert retried.json() == {"accepted": 200, "duplicates": 0}
    assert session.post(url, json=sample_report(), timeout=10).status_code == 202
    assert hub.process.poll() is None
    # Django logs every 5xx answer at error level; the 503s were the point.
    assert [line for line in hub.trouble() if "status_code=503" not in line] == []
    print(f"\ndisk full ({ENGINE}): 503 '{response.json()['detail'][:90]}', recovered")
