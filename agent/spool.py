"""On-disk store for reports the hub has not acknowledged yet.

A small SQLite file in SPOOL_DIR, bounded by total size and by age; the oldest reports
are dropped first, with a warning that counts them. A report leaves the spool only
after the hub answered 2xx, and the hub stores each (host, collected_at) once, so a
crash between sending and deleting duplicates nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order is collection order
    collected_at REAL NOT NULL,            -- unix time, for the age bound
    body BLOB NOT NULL                     -- the report's JSON, ready to send
);
CREATE INDEX IF NOT EXISTS reports_collected_at ON reports (collected_at);
"""


class Spool:
    """The database is opened only once a report has to wait (or one is left from
    before): a host whose hub is always reachable never loads sqlite3, about 1 MB
    of the daemon's RSS budget."""

    def __init__(self, directory: str, max_bytes: int, max_age_seconds: float) -> None:
        # Fail at start, not at the first outage, when SPOOL_DIR is unusable.
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"{directory} is not writable by this user")
        self.path = os.path.join(directory, "spool.sqlite3")
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds
        self.db: Any = None
        self._count = 0
        if os.path.exists(self.path):
            self._open()

    def _open(self) -> None:
        import sqlite3

        try:
            self._connect(sqlite3)
        except sqlite3.DatabaseError as exc:
            # A damaged file must not stop reporting for months: keep it aside, start anew.
            aside = f"{self.path}.damaged-{int(time.time())}"
            log.error("spool: %s is unreadable (%s); moved it to %s", self.path, exc, aside)
            self.close()
            os.replace(self.path, aside)
            self._remove_files()  # a stale WAL must not be replayed into the new file
            self._connect(sqlite3)
        self.enforce_bounds()

    def _connect(self, sqlite3: Any) -> None:
        # One thread uses the spool at a time, but not always the one that opened it
        # (tests run the daemon loop in a thread).
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        # auto_vacuum must be chosen before the first table exists; it lets the file
        # shrink again after a long outage has been sent.
        self.db.execute("PRAGMA auto_vacuum = FULL")
        # WAL + NORMAL: a committed report survives a killed process (not a power cut).
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        # Reads are sequential batches; a 512 KiB page cache (default 2 MiB) keeps a
        # long outage from growing the daemon's RSS.
        self.db.execute("PRAGMA cache_size = -512")
        self.db.executescript(SCHEMA)
        self._count = self.db.execute("SELECT count(*) FROM reports").fetchone()[0]

    def __len__(self) -> int:
        return self._count

    def put(self, collected_at: str, body: bytes) -> bool:
        """Store a report; False (logged) when the disk refuses, so the agent keeps running."""
        stamp = datetime.fromisoformat(collected_at).timestamp()
        try:
            if self.db is None:
                self._open()
            self.db.execute("INSERT INTO reports (collected_at, body) VALUES (?, ?)", (stamp, body))
        except (OSError, self._errors()) as exc:
            log.error("spool: could not store the report of %s, it is lost (%s)", collected_at, exc)
            return False
        self._count += 1
        self.enforce_bounds()
        return True

    @staticmethod
    def _errors() -> type[Exception]:
        import sqlite3  # already loaded when it matters: put() opens the database first

        return sqlite3.Error

    def oldest(self, limit: int, max_bytes: int) -> list[tuple[int, bytes]]:
        """Up to `limit` oldest reports whose bodies add up to at most max_bytes (at least one)."""
        rows: list[tuple[int, bytes]] = []
        if not self._count:
            return rows
        total = 0
        for row_id, body in self.db.execute("SELECT id, body FROM reports ORDER BY id LIMIT ?", (limit,)):
            if rows and total + len(body) > max_bytes:
                break
            rows.append((row_id, bytes(body)))
            total += len(body) + 1
        return rows

    def delete(self, ids: list[int]) -> None:
        if not ids or self.db is None:
            return
        deleted = self.db.executemany("DELETE FROM reports WHERE id = ?", [(i,) for i in ids]).rowcount
        self._count -= deleted
        if not self._count:
            # An empty spool leaves no file, so the next start does not load sqlite3.
            self.close()
            self._remove_files()

    def enforce_bounds(self) -> int:
        """Drop reports older than the age bound, then the oldest until under the size bound."""
        if not self._count:  # also: database not opened yet
            return 0
        cutoff = time.time() - self.max_age_seconds
        aged = self.db.execute("DELETE FROM reports WHERE collected_at < ?", (cutoff,)).rowcount
        if aged:
            log.warning("spool: dropped %d report(s) older than %.3g hours", aged, self.max_age_seconds / 3600)

        total = self.db.execute("SELECT coalesce(sum(length(body)), 0) FROM reports").fetchone()[0]
        excess, last_id, oversize = total - self.max_bytes, None, 0
        if excess > 0:
            for row_id, size in self.db.execute("SELECT id, length(body) FROM reports ORDER BY id"):
                excess -= size
                last_id, oversize = row_id, oversize + 1
                if excess <= 0:
                    break
            self.db.execute("DELETE FROM reports WHERE id <= ?", (last_id,))
            log.warning("spool: full (%.1f MB limit), dropped the %d oldest report(s)", self.max_bytes / 1e6, oversize)
        self._count -= aged + oversize
        return aged + oversize

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)
