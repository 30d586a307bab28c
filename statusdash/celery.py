"""Celery: the periodic sweeps run here. Redis when REDIS_URL is set, else a directory of message files.

One beat: `celery -A statusdash beat` beside the workers (docker-compose), or embedded
in the one worker of `make run` (`worker --pool solo --beat-thread`). The schedule is
`CELERY_BEAT_SCHEDULE` in settings. DjangoTask gives tasks `delay_on_commit`, so a task
never runs before the rows it reads are committed.
"""

import os
from typing import Any

from celery import Celery, bootsteps
from celery.beat import EmbeddedService
from click import Option

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")

app = Celery("statusdash", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class ThreadedBeat(bootsteps.StartStopStep):
    """`worker --beat-thread`: beat in a thread of the worker instead of a forked process.

    Celery's `--beat` forks the worker, every app imported, to run the scheduler; under
    `make run` that child held 70 MiB of PSS beside a 72 MiB solo worker (docs/benchmarks.md,
    "Embedded footprint"). Beat only reads the schedule and sends messages, which a thread
    does as well; Celery runs it so itself where it has no multiprocessing.
    """

    label = "Beat (thread)"
    conditional = True

    def __init__(self, worker: Any, beat_thread: bool = False, **options: Any) -> None:
        self.enabled = beat_thread
        super().__init__(worker, **options)

    def create(self, worker: Any) -> Any:
        return EmbeddedService(
            worker.app, thread=True, schedule_filename=worker.schedule_filename, scheduler_cls=worker.scheduler
        )


app.user_options["worker"].add(
    Option(["--beat-thread"], is_flag=True, default=False, help="Run beat in a thread of this worker (one beat only).")
)
app.steps["worker"].add(ThreadedBeat)
