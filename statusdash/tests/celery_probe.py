"""A Celery app for test_scale_out: statusdash's app plus a task that records each run.

Workers load it with `--include statusdash.tests.celery_probe`, beat with `-A` (for the
schedule). Each run appends `<task id> <label> <worker>` to PROBE_LOG (O_APPEND writes of
one short line do not interleave).
"""

from __future__ import annotations

import os
import time

from statusdash.celery import app

PROBE_TASK = "statusdash.tests.probe"


@app.task(name=PROBE_TASK, bind=True)
def probe(self, label: str) -> None:  # type: ignore[no-untyped-def]
    time.sleep(0.05)  # long enough that both workers get a share
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(f"{self.request.id} {label} {self.request.hostname}\n")


app.conf.beat_schedule = {"probe-every-half-second": {"task": PROBE_TASK, "schedule": 0.5, "args": ("beat",)}}
