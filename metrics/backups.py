"""Database backups: SQLite through its online backup API, PostgreSQL through pg_dump.

Backups go to DATA_DIR/backups/databases/ as `statusdash-<UTC time>.db` (SQLite)
or `.dump` (pg_dump's custom format); the newest BACKUP_KEEP are kept. A file is
written under a temporary name and renamed once complete and checked, so a crash
never leaves a half backup that looks whole. Restoring one is `metrics/restore.py`'s.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

PREFIX = "statusdash-"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why."""


def backup_dir() -> Path:
    path = settings.BACKUP_DIR / "databases"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def sqlite_path() -> Path:
    return Path(connection.settings_dict["NAME"])


def backup_database(now: datetime | None = None, keep: int | None = None) -> Path:
    """Write a consistent copy of the live database and rotate old copies. Returns its path."""
    stamp = (now or timezone.now()).strftime("%Y%m%dT%H%M%S%fZ")
    suffix = ".db" if is_sqlite() else ".dump"
    final = backup_dir() / f"{PREFIX}{stamp}{suffix}"
    partial = final.with_name(final.name + ".partial")
    # Created 0600 first: sqlite3 and pg_dump keep an existing file's mode, and a backup holds
    # every secret the database does.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        if is_sqlite():
            snapshot_sqlite(sqlite_path(), partial)
        else:
            run_pg("pg_dump", "--format=custom", "--no-owner", f"--file={partial}")
        check_backup(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(final)
    rotate(keep or settings.BACKUP_KEEP)
    return final


def copy_sqlite(source: Path, target: Path) -> None:
    # The backup API copies a consistent snapshot while the hub keeps writing (WAL included).
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def snapshot_sqlite(source: Path, target: Path) -> None:
    """A copy of `source` as one self-contained file.

    The copy takes the live database's WAL mode with its first page. Left so, every later
    read-only open (the integrity check, a restore's) creates `-wal` and `-shm` files
    beside it that a read-only connection cannot remove: the `*.partial-wal` and
    `*.partial-shm` every backup used to leave. In rollback-journal mode it has none.
    """
    copy_sqlite(source, target)
    db = sqlite3.connect(target)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()


JOURNAL_SUFFIXES = ("-wal", "-shm")


def rotate(keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups, and journal files left without their database;
    returns what was deleted."""
    directory = backup_dir()
    backups = sorted(directory.glob(f"{PREFIX}*[0-9]Z.*"), reverse=True)
    backups = [p for p in backups if p.suffix in (".db", ".dump")]
    for old in backups[keep:]:
        old.unlink()
    # A journal file whose database is gone belongs to no one: a finished or abandoned
    # backup's `.partial` (older versions left one pair per backup), or a rotated backup
    # that a read-only open had put in WAL mode. A backup in progress still has its
    # `.partial`, so its journal is kept.
    orphans = [
        path
        for path in sorted(directory.iterdir())
        if path.name.endswith(JOURNAL_SUFFIXES) and not path.with_name(path.name[:-4]).exists()
    ]
    for orphan in orphans:
        orphan.unlink(missing_ok=True)
    return [*backups[keep:], *orphans]


def check_backup(path: Path) -> None:
    """Raise BackupError unless `path` is an intact statusdash database of this hub's kind."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    if is_sqlite():
        check_sqlite(path)
    else:
        try:
            listing = run_pg("pg_restore", "--list", str(path), database=False)
        except BackupError as error:
            raise BackupError(f"{path}: not a pg_dump archive ({error})") from None
        if "django_migrations" not in listing:
            raise BackupError(f"{path}: not a statusdash database (no django_migrations table)")


def check_sqlite(path: Path) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = db.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: not a SQLite database ({error})") from None
    finally:
        db.close()
    if result != "ok":
        raise BackupError(f"{path}: integrity check failed: {result}")
    if "django_migrations" not in tables:
        raise BackupError(f"{path}: not a statusdash database (no django_migrations table)")


def pg_environment() -> dict[str, str]:
    """The environment that points PostgreSQL's client tools at the live database's server."""
    db = connection.settings_dict
    env = {**os.environ}
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD")):
        if db.get(key):
            env[variable] = str(db[key])
    return env


def pg_database_argument() -> str:
    return f"--dbname={connection.settings_dict['NAME']}"


def run_pg(program: str, *args: str, database: bool = True) -> str:
    command = [program, *args, *([pg_database_argument()] if database else [])]
    try:
        result = subprocess.run(
            command, env=pg_environment(), capture_output=True, text=True, timeout=3600, check=False
        )
    except FileNotFoundError:
        raise BackupError(f"{program} is not installed (PostgreSQL client tools are needed)") from None
    if result.returncode != 0:
        raise BackupError(f"{program} failed: {result.stderr.strip()[-500:]}")
    return result.stdout
