"""Queue this process's SQLite writers on a Python lock instead of SQLite's busy handler.

SQLite allows one writer at a time. When several request threads want to write,
the losers sleep in the busy handler with growing back-off (up to 100 ms a nap)
even after the lock is free, which shows up as long tail latency. A process-wide
lock wakes the next writer as soon as the previous one commits. Other processes
(the Celery worker) still wait on the busy timeout. Other databases need nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from django.db import connection, transaction

_sqlite_writer = threading.Lock()


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with _sqlite_writer, transaction.atomic():
        yield
