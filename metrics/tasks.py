"""Beat jobs for stored metrics: rollups, retention and the daily backup."""

from __future__ import annotations

import logging

from celery import shared_task

from metrics import backups as backup
from metrics import rollups
from statusdash.lib.observability import timed_sweep

log = logging.getLogger("statusdash.metrics")


@shared_task
@timed_sweep("metrics.roll_up")
def roll_up() -> int:
    return rollups.roll_up()


@shared_task
@timed_sweep("metrics.apply_retention")
def apply_retention() -> dict[str, int]:
    deleted = rollups.delete_expired()
    log.info("retention applied", extra=deleted)
    return deleted


@shared_task
@timed_sweep("metrics.backup_database")
def backup_database() -> str:
    path = backup.backup_database()
    log.info("database backed up", extra={"path": str(path), "bytes": path.stat().st_size})
    return str(path)
