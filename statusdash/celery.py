"""Celery: the periodic sweeps run here. Redis when REDIS_URL is set, else an SQLite broker."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")

app = Celery("statusdash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
