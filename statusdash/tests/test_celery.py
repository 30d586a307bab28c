"""statusdash/celery.py: `worker --beat-thread`, the one-process worker of `make run`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import hub_env
from statusdash.tests.support import BASE_DIR, stop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def test_beat_thread_runs_the_schedule_inside_the_one_worker_process(tmp_path: Path) -> None:
    env = {**os.environ, **hub_env(tmp_path, ALERT_DISPATCH_SECONDS="1", LOG_LEVEL="INFO")}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "statusdash",
                "worker",
                "--pool",
                "solo",
                "--beat-thread",
                "-l",
                "INFO",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "Task alerts.tasks.dispatch_notifications[" not in log.read_text():
            assert worker.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "beat sent nothing the worker ran:\n" + log.read_text()[-2000:]
            time.sleep(0.3)
        assert children_of(worker.pid) == []  # `--beat` would have forked a beat process
    finally:
        stop(worker)
    assert worker.returncode == 0
    assert list((tmp_path / "hub-data" / "db").glob("celerybeat-schedule*"))  # saved on the way out
