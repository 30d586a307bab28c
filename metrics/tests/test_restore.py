"""Restore: only a whole statusdash database this version can run, shown against the live one, and only when asked."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from hosts.models import Host
from metrics import backups as backup
from metrics import restore
from metrics.models import MetricSample
from statusdash.tests.skips import postgres_only, sqlite_only
from statusdash.tests.support import sample_report

BASE_DIR = Path(__file__).resolve().parents[2]
BACKUP_TIME = datetime(2026, 3, 1, 3, 17, tzinfo=UTC)


@pytest.fixture
def backups(settings: Any, tmp_path: Path) -> Path:
    settings.BACKUP_DIR = tmp_path / "backup-root"
    return settings.BACKUP_DIR / "databases"


def add_sample(host: Host, at: datetime) -> None:
    report = sample_report()
    report["collected_at"] = at
    MetricSample.from_report(host, report).save()


def live_hosts() -> list[str]:
    return sorted(Host.objects.values_list("name", flat=True))


def written_backup(*names: str) -> Path:
    """A backup holding hosts with these names, after which the live database holds only 'live'."""
    Host.objects.all().delete()
    for name in names:
        Host.objects.create(name=name)
    path = backup.backup_database(now=BACKUP_TIME)
    Host.objects.all().delete()
    Host.objects.create(name="live")
    return path


def assert_nothing_changed(backups: Path) -> None:
    assert live_hosts() == ["live"]
    assert not list(backups.glob("pre-restore-*"))
    assert not list(backups.glob("restoring-*"))


@pytest.fixture
def terminal() -> Iterator[tuple[IO[str], int]]:
    """A real terminal: (what the command reads, where the test types)."""
    typist, reader = os.openpty()
    stdin = os.fdopen(reader, "r")
    yield stdin, typist
    stdin.close()
    os.close(typist)


def with_extra_migration(path: Path, app: str, name: str) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, '2026-03-01')", (app, name))
    db.close()


def insert_host(db: sqlite3.Connection, name: str) -> None:
    """A host row written as another program would, not through the ORM (every column is NOT NULL).

    The columns are those of the schema at hand: older backups lack the newer ones.
    """
    values = {
        "name": name,
        "display_name": "",
        "description": "",
        "tags": "[]",
        "enabled": 1,
        "created_at": "2026-01-01",
        "os": "",
        "kernel": "",
        "arch": "",
        "agent_version": "",
        "reported_hostname": "",
        "agent_auto_update": 0,
    }
    present = {row[1] for row in db.execute("PRAGMA table_info(hosts_host)")}
    columns = [column for column in values if column in present]
    db.execute(
        f"INSERT INTO hosts_host ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",  # noqa: S608
        [values[column] for column in columns],
    )


# --- Asking first ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_restore_with_yes_replaces_the_live_database_and_keeps_a_safety_copy(backups: Path, capsys: Any) -> None:
    path = written_backup("kept")

    call_command("restore", str(path), "--yes")

    assert live_hosts() == ["kept"]
    assert "the replaced database was saved as" in capsys.readouterr().out
    [safety] = backups.glob("pre-restore-statusdash-*")
    assert sorted(backups.iterdir()) == sorted([path, safety])
    call_command("restore", str(safety), "--yes")
    assert live_hosts() == ["live"]


@pytest.mark.django_db(transaction=True)
def test_restore_shows_what_the_backup_holds_against_the_live_database(backups: Path, capsys: Any) -> None:
    host = Host.objects.create(name="in-backup")
    add_sample(host, datetime(2026, 3, 1, 3, 16, 50, tzinfo=UTC))
    add_sample(host, datetime(2026, 3, 1, 3, 16, 40, tzinfo=UTC))
    path = backup.backup_database(now=BACKUP_TIME)
    for name in ("live-1", "live-2"):
        add_sample(Host.objects.create(name=name), datetime(2026, 3, 4, 10, 2, tzinfo=UTC))

    with pytest.raises(CommandError):
        call_command("restore", str(path), stdin=io.StringIO())

    lines = capsys.readouterr().out.splitlines()
    migrations = str(len(restore.live_contents().migrations))
    assert f"Restore {path} into the live database" in lines[0]
    assert [line.split() for line in lines[2:8]] == [
        ["backup", "live", "database", "(replaced)"],
        ["written", "2026-03-01", "03:17:00", "UTC", "now"],
        ["hosts", "1", "3"],
        ["samples", "2", "4"],
        ["newest", "sample", "2026-03-01", "03:16:50", "UTC", "2026-03-04", "10:02:00", "UTC"],
        ["migrations", migrations, "applied", migrations, "applied"],
    ]


@pytest.mark.django_db(transaction=True)
def test_restore_without_yes_and_without_a_terminal_changes_nothing(backups: Path) -> None:
    path = written_backup("kept")
    with pytest.raises(CommandError, match="Run again with --yes"):
        call_command("restore", str(path), stdin=io.StringIO("restore\n"))  # piped, so not a person
    assert_nothing_changed(backups)


@pytest.mark.django_db(transaction=True)
def test_restore_confirmed_on_a_terminal_replaces_the_live_database(
    backups: Path, terminal: tuple[IO[str], int], capsys: Any
) -> None:
    path = written_backup("kept")
    stdin, typist = terminal
    os.write(typist, b"restore\n")

    call_command("restore", str(path), stdin=stdin)

    assert "Type 'restore' to replace the live database" in capsys.readouterr().out
    assert live_hosts() == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_restore_answered_otherwise_on_a_terminal_changes_nothing(backups: Path, terminal: tuple[IO[str], int]) -> None:
    path = written_backup("kept")
    stdin, typist = terminal
    os.write(typist, b"yes\n")
    with pytest.raises(CommandError, match="not confirmed"):
        call_command("restore", str(path), stdin=stdin)
    assert_nothing_changed(backups)


# --- Files refused -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_restore_of_a_missing_file_is_refused(backups: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(backups / "nope.db"), "--yes")


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_of_a_file_that_is_not_sqlite_is_refused(backups: Path, tmp_path: Path) -> None:
    written_backup()
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all, just words " * 200)
    with pytest.raises(CommandError, match="not a SQLite database"):
        call_command("restore", str(junk), "--yes")
    assert_nothing_changed(backups)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_of_a_truncated_backup_is_refused_and_changes_nothing(backups: Path, tmp_path: Path) -> None:
    good = written_backup("kept")
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CommandError, match="damaged"):
        call_command("restore", str(truncated), "--yes")
    assert_nothing_changed(backups)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_of_a_corrupt_file_is_refused_and_changes_nothing(backups: Path, tmp_path: Path) -> None:
    good = written_backup("kept")
    corrupt = tmp_path / "corrupt.db"
    data = bytearray(good.read_bytes())
    data[100 : len(data) // 2] = b"\xff" * (len(data) // 2 - 100)  # keep the header, trash the pages
    corrupt.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="not restored"):
        call_command("restore", str(corrupt), "--yes")
    assert_nothing_changed(backups)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_of_another_applications_database_is_refused(backups: Path, tmp_path: Path) -> None:
    written_backup()
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(CommandError, match="not a statusdash database"):
        call_command("restore", str(other), "--yes")
    assert_nothing_changed(backups)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_of_a_file_with_only_a_migrations_table_is_refused(backups: Path, tmp_path: Path) -> None:
    # What the fake had: a django_migrations table listing every migration, and nothing else.
    good = written_backup("kept")
    fake = tmp_path / "fake.db"
    with sqlite3.connect(fake) as db:
        db.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app, name, applied)")
        db.execute("ATTACH DATABASE ? AS good", (str(good),))
        db.execute("INSERT INTO django_migrations SELECT * FROM good.django_migrations")
    db.close()
    with pytest.raises(CommandError, match=r"tables it does not have \([^)]*alerts_alert, "):
        call_command("restore", str(fake), "--yes")
    assert_nothing_changed(backups)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_of_a_django_database_that_never_had_statusdash_is_refused(backups: Path, tmp_path: Path) -> None:
    good = written_backup("kept")
    other = tmp_path / "other-django.db"
    shutil.copyfile(good, other)
    with sqlite3.connect(other) as db:
        db.execute("DELETE FROM django_migrations WHERE app NOT IN ('contenttypes', 'auth')")
    db.close()
    with pytest.raises(CommandError, match=r"not a statusdash database \(it never applied hosts.0001_initial\)"):
        call_command("restore", str(other), "--yes")
    assert_nothing_changed(backups)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_of_a_backup_from_a_newer_version_is_refused(backups: Path) -> None:
    newer = written_backup("kept")
    with_extra_migration(newer, "alerts", "0099_from_a_newer_version")
    with pytest.raises(CommandError, match=r"newer statusdash.*alerts\.0099_from_a_newer_version.*Upgrade"):
        call_command("restore", str(newer), "--yes")
    assert_nothing_changed(backups)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_ignores_migrations_of_apps_this_version_no_longer_has(backups: Path) -> None:
    path = written_backup("kept")
    with_extra_migration(path, "retired_app", "0001_initial")
    call_command("restore", str(path), "--yes")
    assert live_hosts() == ["kept"]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_restore_of_a_backup_with_a_gap_in_its_migrations_is_refused(backups: Path) -> None:
    gapped = written_backup("kept")
    with sqlite3.connect(gapped) as db:
        db.execute("DELETE FROM django_migrations WHERE app = 'hosts' AND name = '0002_certificates_and_enrollment'")
    db.close()
    with pytest.raises(CommandError, match=r"inconsistent migration history.*hosts\.0002_certificates_and_enrollment"):
        call_command("restore", str(gapped), "--yes")
    assert_nothing_changed(backups)


# --- Files accepted ----------------------------------------------------------------------


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_an_older_backup_is_restored_and_migrate_brings_it_up_to_date(
    backups: Path, tmp_path: Path, capsys: Any
) -> None:
    # A database as an older statusdash left it: alerts at 0003, no services app at all.
    data = tmp_path / "older"
    environment = {"PATH": os.environ["PATH"], "DATA_DIR": str(data), "ENV_FILE": str(tmp_path / "none")}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "alerts", "0003", "-v", "0"],
        cwd=BASE_DIR,
        env=environment,
        check=True,
        timeout=120,
    )
    older = data / "db" / "status-dashboard.db"
    with sqlite3.connect(older) as db:
        insert_host(db, "old-host")
    db.close()

    try:
        call_command("restore", str(older), "--yes")
        out = capsys.readouterr().out
    finally:
        # Before any assert: a failure must not leave this worker's test database at the old
        # schema for every test after it.
        call_command("migrate", "-v", "0")

    assert "The backup is from an older version" in out
    assert "of accounts, admin, alerts, audit, " in out
    assert "auth, checks, contenttypes, dashboard, hosts, metrics," in out
    assert ["samples", "-", "0"] in [line.split() for line in out.splitlines()]  # it has no samples table yet
    assert live_hosts() == ["old-host"]
    assert list(older.parent.glob(f"{older.name}*")) == [older]  # nothing written beside the file read


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_database_copied_with_its_wal_is_restored_whole(backups: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copied.db"
    Host.objects.all().delete()
    Host.objects.create(name="kept")
    source = sqlite3.connect(connection.settings_dict["NAME"])
    writer = sqlite3.connect(copy)
    source.backup(writer)  # the copy is in WAL mode, like the live database
    source.close()
    writer.execute("PRAGMA wal_autocheckpoint=0")  # the next rows stay in copied.db-wal
    insert_host(writer, "in-wal")
    writer.commit()
    # As a file copy of a running database would be: the file and its -wal, no one attached.
    shutil.copyfile(copy, tmp_path / "taken.db")
    shutil.copyfile(f"{copy}-wal", tmp_path / "taken.db-wal")
    writer.close()

    call_command("restore", str(tmp_path / "taken.db"), "--yes")

    assert live_hosts() == ["in-wal", "kept"]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_database_with_another_page_size_is_restored(backups: Path) -> None:
    path = written_backup("kept")
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size = 8192")
    db.execute("VACUUM")
    db.close()
    call_command("restore", str(path), "--yes")
    assert live_hosts() == ["kept"]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_live_database_without_tables_can_still_be_restored(backups: Path) -> None:
    # The state a fake restore left the hub in: a restore is how it gets fixed.
    path = written_backup("kept")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("DROP TABLE metrics_metricsample")
        cursor.execute("PRAGMA foreign_keys=ON")
    call_command("restore", str(path), "--yes")
    assert live_hosts() == ["kept"]
    assert MetricSample.objects.count() == 0


# --- PostgreSQL --------------------------------------------------------------------------


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_restore_with_yes_replaces_the_live_database(backups: Path, capsys: Any) -> None:
    path = written_backup("kept")

    call_command("restore", str(path), "--yes")

    out = capsys.readouterr().out
    assert ["hosts", "1", "1"] in [line.split() for line in out.splitlines()]
    assert live_hosts() == ["kept"]
    assert list(backups.glob("pre-restore-statusdash-*.dump"))


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_restore_counts_the_archives_hosts_and_samples(backups: Path, capsys: Any) -> None:
    host = Host.objects.create(name="in-backup")
    add_sample(host, datetime(2026, 3, 1, 3, 16, 50, tzinfo=UTC))
    add_sample(host, datetime(2026, 3, 1, 3, 16, 40, tzinfo=UTC))
    path = backup.backup_database(now=BACKUP_TIME)
    Host.objects.create(name="live-1")

    with pytest.raises(CommandError):
        call_command("restore", str(path), stdin=io.StringIO())

    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["hosts", "1", "2"] in rows
    assert ["samples", "2", "2"] in rows
    assert ["newest", "sample", "2026-03-01", "03:16:50", "UTC", "2026-03-01", "03:16:50", "UTC"] in rows
    assert ["written", "2026-03-01", "03:17:00", "UTC", "now"] in rows


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_restore_of_a_file_that_is_not_a_dump_is_refused(backups: Path, tmp_path: Path) -> None:
    written_backup()
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"PGDMP but not really")
    with pytest.raises(CommandError, match="not a pg_dump archive"):
        call_command("restore", str(junk), "--yes")
    assert_nothing_changed(backups)


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_restore_of_a_truncated_dump_is_refused_and_changes_nothing(backups: Path, tmp_path: Path) -> None:
    good = written_backup("kept")
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    with pytest.raises(CommandError, match="not restored"):
        call_command("restore", str(truncated), "--yes")
    assert_nothing_changed(backups)


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_load_of_an_archive_that_breaks_half_way_changes_nothing(backups: Path, tmp_path: Path) -> None:
    # prepare() reads the whole archive first; this is the load's own guard, for a file
    # that changes or a disk that fails between the two.
    good = written_backup("kept")
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    tables = sorted(connection.introspection.table_names())
    with pytest.raises(backup.BackupError, match=r"pg_restore failed.*the live database is unchanged"):
        restore.load_pg_archive(truncated, ("public",))
    assert sorted(connection.introspection.table_names()) == tables
    assert live_hosts() == ["live"]


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_restore_of_a_dump_from_a_newer_version_is_refused(backups: Path) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('alerts', '0099_newer', now())")
        newer = written_backup("kept")
        cursor.execute("DELETE FROM django_migrations WHERE name = '0099_newer'")
    with pytest.raises(CommandError, match=r"newer statusdash.*alerts\.0099_newer"):
        call_command("restore", str(newer), "--yes")
    assert_nothing_changed(backups)


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_restore_of_a_database_with_only_a_migrations_table_is_refused(backups: Path, tmp_path: Path) -> None:
    written_backup()
    fake_name = f"{connection.settings_dict['NAME']}_fake"
    fake = tmp_path / "fake.dump"
    env = backup.pg_environment()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{fake_name}"')
        cursor.execute(f'CREATE DATABASE "{fake_name}"')
    try:
        table = "CREATE TABLE django_migrations (id serial, app text, name text, applied timestamptz)"
        rows = "INSERT INTO django_migrations (app, name, applied) VALUES ('hosts', '0001_initial', now())"
        subprocess.run(["psql", "-X", "-q", "-c", table, "-c", rows, fake_name], env=env, check=True)
        subprocess.run(["pg_dump", "--format=custom", f"--file={fake}", fake_name], env=env, check=True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{fake_name}"')
    with pytest.raises(CommandError, match=r"tables it does not have \(hosts_apikey, hosts_host"):
        call_command("restore", str(fake), "--yes")
    assert_nothing_changed(backups)


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_restore_drops_live_tables_the_older_dump_does_not_have(backups: Path) -> None:
    # What a newer version's migration would have added, with a foreign key that makes
    # pg_restore --clean fail to drop hosts_host.
    path = written_backup("kept")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE hosts_newer (id serial PRIMARY KEY, host_id bigint REFERENCES hosts_host (id))")
    call_command("restore", str(path), "--yes")
    assert live_hosts() == ["kept"]
    assert "hosts_newer" not in connection.introspection.table_names()


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_pg_restore_while_the_hub_holds_a_table_is_refused_and_changes_nothing(
    backups: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore, "LOCK_TIMEOUT_SECONDS", 1)
    path = written_backup("kept")
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"], host=settings["HOST"], port=settings["PORT"], user=settings["USER"]
    ) as hub:
        hub.execute("SELECT count(*) FROM hosts_host")  # a transaction in progress, as a running hub has
        with pytest.raises(CommandError, match="is the hub still running"):
            call_command("restore", str(path), "--yes")
        hub.rollback()
    Path(next(iter(backups.glob("pre-restore-*")))).unlink()  # the safety copy is made first, by design
    assert_nothing_changed(backups)
