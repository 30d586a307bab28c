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


# A SELECT-list expression that makes the PostgreSQL transaction it runs in commit without
# waiting for its WAL flush (`SET LOCAL synchronous_commit TO OFF`, as a function, so that it
# rides in a statement the transaction sends anyway instead of costing a round trip). That is
# the guarantee SQLite gives in WAL mode with `synchronous=NORMAL`: a database or machine crash
# may lose the last fraction of a second of such commits, never a committed state half-way; a
# crash of the hub loses nothing. The flush per report was PostgreSQL's largest cost on ingest
# (docs/benchmarks.md); ingest uses it unless INGEST_SYNCHRONOUS_COMMIT is set.
COMMIT_WITHOUT_FLUSH_SQL = "set_config('synchronous_commit', 'off', true)"


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """One transaction for a write path (on SQLite, queued on this process's writer lock)."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with _sqlite_writer, transaction.atomic():
        yield
