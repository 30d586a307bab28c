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
def write_transaction(*, wait_for_disk: bool = True) -> Iterator[None]:
    """One transaction for a write path.

    `wait_for_disk=False` lets a PostgreSQL commit return before its WAL is flushed
    (`synchronous_commit` off for this transaction only): the guarantee SQLite gives in WAL
    mode with `synchronous=NORMAL`. A database or machine crash may lose the last fraction
    of a second of such commits, never a committed state half-way; a crash of the hub loses
    nothing. The flush per report was PostgreSQL's largest cost on ingest (docs/benchmarks.md).
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            if not wait_for_disk and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            yield
        return
    with _sqlite_writer, transaction.atomic():
        yield
