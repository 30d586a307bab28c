"""Backups: a consistent copy in one file, with rotation (restores: test_restore.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from hosts.models import Host
from metrics import backups as backup
from statusdash.tests.skips import postgres_only, sqlite_only


@pytest.fixture
def backups(settings: Any, tmp_path: Path) -> Path:
    settings.BACKUP_DIR = tmp_path
    return tmp_path / "databases"


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_backup_holds_what_the_database_held(backups: Path, capsys: Any) -> None:
    Host.objects.create(name="kept")
    call_command("backup")
    [copy] = backups.glob("statusdash-*.db")
    assert "backup written" in capsys.readouterr().out
    Host.objects.create(name="after-the-backup")

    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT name FROM hosts_host").fetchall() == [("kept",)]
    db.close()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_backups_rotate_keeping_the_newest(backups: Path) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    written = [backup.backup_database(now=start + timedelta(days=d), keep=3) for d in range(5)]
    assert sorted(backups.glob("statusdash-*.db")) == written[2:]
    assert not list(backups.glob("*.partial"))


@pytest.mark.django_db(transaction=True)
def test_a_backup_leaves_nothing_but_itself_in_the_directory(backups: Path) -> None:
    first = backup.backup_database(now=datetime(2026, 3, 1, tzinfo=UTC))
    second = backup.backup_database(now=datetime(2026, 3, 2, tzinfo=UTC))
    assert sorted(backups.iterdir()) == [first, second]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_sqlite_backup_stays_one_file_when_opened_read_only(backups: Path) -> None:
    # Rotation would sweep the journal files up later; the copy must not make them at all.
    path = backup.backup_database()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert db.execute("SELECT count(*) FROM hosts_host").fetchone() == (0,)
    db.close()
    assert sorted(backups.iterdir()) == [path]


@pytest.mark.django_db(transaction=True)
def test_rotation_removes_journal_files_older_versions_left_beside_backups(backups: Path) -> None:
    backups.mkdir(parents=True)
    old = backups / "statusdash-20260228T031700000000Z.db"
    old.write_bytes(b"")
    leftovers = [
        backups / "statusdash-20260228T031700000000Z.db.partial-wal",
        backups / "statusdash-20260228T031700000000Z.db.partial-shm",
        backups / "statusdash-20260227T031700000000Z.db-wal",  # beside a backup rotated away
    ]
    for path in leftovers:
        path.write_bytes(b"")

    written = backup.backup_database(now=datetime(2026, 3, 1, tzinfo=UTC))

    assert sorted(backups.iterdir()) == [old, written]


@pytest.mark.django_db(transaction=True)
def test_rotation_keeps_the_journal_of_a_backup_still_being_written(backups: Path) -> None:
    backups.mkdir(parents=True)
    partial = backups / "statusdash-20260301T120000000000Z.db.partial"  # another backup, writing
    in_progress = [partial, partial.with_name(partial.name + "-wal")]
    for path in in_progress:
        path.write_bytes(b"")

    written = backup.backup_database(now=datetime(2026, 3, 1, tzinfo=UTC))

    assert sorted(backups.iterdir()) == sorted([*in_progress, written])


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_rotation_takes_a_rotated_backups_journal_files_with_it(backups: Path) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    oldest = backup.backup_database(now=start, keep=1)
    # A read-only open of a backup in WAL mode (older versions wrote them so) left these.
    for suffix in backup.JOURNAL_SUFFIXES:
        oldest.with_name(oldest.name + suffix).write_bytes(b"")

    newest = backup.backup_database(now=start + timedelta(days=1), keep=1)

    assert sorted(backups.iterdir()) == [newest]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_backup_keep_must_be_positive(backups: Path) -> None:
    with pytest.raises(CommandError, match="--keep must be at least 1"):
        call_command("backup", "--keep", "0")


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_the_daily_task_writes_a_backup(backups: Path) -> None:
    from metrics.tasks import backup_database

    path = Path(backup_database.apply().get())
    assert path.parent == backups and path.exists()
    assert connection.vendor == "sqlite"


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_dump_backup_is_a_custom_format_archive(backups: Path) -> None:
    path = backup.backup_database()
    assert path.suffix == ".dump"
    assert "django_migrations" in backup.run_pg("pg_restore", "--list", str(path), database=False)


@pytest.mark.django_db(transaction=True)
def test_a_backup_is_readable_by_its_owner_alone(backups: Path) -> None:
    # Either engine: SQLite's backup API and pg_dump would both leave the umask's 0644.
    path = backup.backup_database()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(backups.stat().st_mode & 0o777) == "0o700"
