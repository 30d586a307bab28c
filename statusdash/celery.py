"""Celery: the periodic sweeps run here. Redis when REDIS_URL is set, else an SQLite broker.

One beat (`celery -A statusdash worker --beat`, as `make run` starts it); the
schedule is `CELERY_BEAT_SCHEDULE` in settings. DjangoTask gives tasks
`delay_on_commit`, so a task never runs before the rows it reads are committed.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")

app = Celery("statusdash", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
