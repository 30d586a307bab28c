"""Restoring a backup: read what a file holds, say what it would replace, then replace the live database.

A restore replaces everything the hub knows, so it goes in two steps. `prepare()` reads
the file without touching the live database and refuses anything that is not a whole
statusdash database this version can run: not SQLite or not a pg_dump archive, damaged
or cut short, another application's database, one with migrations this code does not
know (written by a newer statusdash), with a gap in its migrations, or without the
tables its own migrations made. The plan it hands back tells what is in the file and
in the live database; `RestorePlan.apply()` saves the live database beside the backups,
then replaces it.

SQLite: the file is copied (with its `-wal`, if it has one) and everything is read from
the copy, so nothing is written beside the file, and the copy that was checked is the
one that goes in. PostgreSQL: the archive is read through once (`pg_restore -f -`),
which proves every block of it is readable; it is then loaded by psql in one transaction
that drops the live tables first and commits only once pg_restore has finished cleanly,
so a failure at any point leaves the live database as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from hosts.models import Host
from metrics.backups import (
    PREFIX,
    BackupError,
    backup_database,
    backup_dir,
    copy_sqlite,
    is_sqlite,
    pg_database_argument,
    pg_environment,
    run_pg,
    sqlite_path,
)
from metrics.models import MetricSample

# Every statusdash database has applied this since the first version.
FIRST_MIGRATION = ("hosts", "0001_initial")
# How long the restore waits for a table the hub still uses before it gives up (PostgreSQL).
LOCK_TIMEOUT_SECONDS = 10
STAMP = re.compile(r"(?:pre-restore-)?" + re.escape(PREFIX) + r"(\d{8}T\d{12})Z\.")
# A table entry of `pg_restore --list`; schema names are plain identifiers (Django makes no others).
TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE ([A-Za-z_][A-Za-z0-9_]*) (\S+) ")


@dataclass(frozen=True)
class Contents:
    """What one database holds, as far as deciding to restore goes. None: it has no such table."""

    hosts: int | None
    samples: int | None
    newest_sample: datetime | None
    migrations: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class RestorePlan:
    source: Path
    written_at: datetime
    backup: Contents
    live: Contents
    # Migrations this code has that the backup lacks: `migrate` applies them after the restore.
    to_migrate: list[str]
    # SQLite: the checked copy of the file. PostgreSQL: the archive itself.
    staged: Path
    # PostgreSQL: the schemas the archive's tables are in, whose live tables it replaces.
    schemas: tuple[str, ...] = ()

    def summary(self) -> str:
        """What would be replaced, and with what, side by side."""
        rows = [
            ("", "backup", "live database (replaced)"),
            ("written", when(self.written_at), "now"),
            ("hosts", count(self.backup.hosts), count(self.live.hosts)),
            ("samples", count(self.backup.samples), count(self.live.samples)),
            ("newest sample", when(self.backup.newest_sample), when(self.live.newest_sample)),
            ("migrations", f"{len(self.backup.migrations)} applied", f"{len(self.live.migrations)} applied"),
        ]
        lines = [f"Restore {self.source} into the live database ({describe_live_database()})?", ""]
        lines += [f"  {label:<15}{backup:<28}{live}".rstrip() for label, backup, live in rows]
        lines.append("")
        if self.to_migrate:
            apps = sorted({name.split(".")[0] for name in self.to_migrate})
            lines.append(
                f"The backup is from an older version: {len(self.to_migrate)} migration(s) of {', '.join(apps)} "
                "are applied when the hub starts (or run `manage.py migrate`)."
            )
        lines.append("The live database is saved first, as pre-restore-statusdash-<time> beside the backups.")
        lines.append("Stop the hub (web and worker) before restoring.")
        return "\n".join(lines)

    def apply(self) -> Path:
        """Save the live database, then replace it with the backup; returns the saved copy."""
        safety = backup_database(keep=10**6)
        safety = safety.rename(safety.with_name("pre-restore-" + safety.name))
        connections.close_all()
        if is_sqlite():
            try:
                # Through the backup API, not a file copy: the live database's WAL stays
                # consistent for any process that still has it open.
                copy_sqlite(self.staged, sqlite_path())
            except sqlite3.Error as error:
                raise BackupError(f"the live database could not be written ({error}); it is unchanged") from None
        else:
            load_pg_archive(self.staged, self.schemas)
        return safety


@contextmanager
def prepare(path: Path) -> Iterator[RestorePlan]:
    """Check `path` and read what it and the live database hold. Raises BackupError; changes nothing."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    written_at = backup_time(path)
    live = live_contents()
    if is_sqlite():
        with staged_copy(path) as staged:
            backup, tables = read_sqlite(path, staged, live_page_size())
            to_migrate = check_compatible(path, backup.migrations, tables)
            yield RestorePlan(path, written_at, backup, live, to_migrate, staged)
    else:
        backup, tables, schemas = read_pg_archive(path)
        to_migrate = check_compatible(path, backup.migrations, tables)
        yield RestorePlan(path, written_at, backup, live, to_migrate, path, schemas)


def check_compatible(path: Path, applied: frozenset[tuple[str, str]], tables: set[str]) -> list[str]:
    """Refuse a database this code cannot run after `migrate`; return the migrations it lacks.

    Applied migrations of apps this code does not have are left out, as `migrate` does:
    they are what an app removed long ago left behind.
    """
    loader = MigrationLoader(None, ignore_no_migrations=True)
    ours = frozenset(key for key in applied if key[0] in loader.migrated_apps)
    if FIRST_MIGRATION not in ours:
        raise BackupError(f"{path}: not a statusdash database (it never applied {'.'.join(FIRST_MIGRATION)})")
    unknown = sorted(ours - set(loader.graph.nodes))
    if unknown:
        raise BackupError(
            f"{path}: written by a newer statusdash; this version does not know its migrations "
            f"{', '.join('.'.join(key) for key in unknown)}. Upgrade statusdash, then restore."
        )
    gaps = sorted(
        {parent.key for key in ours for parent in loader.graph.node_map[key].parents if parent.key not in ours}
    )
    if gaps:
        raise BackupError(
            f"{path}: inconsistent migration history: applied migrations depend on ones never applied "
            f"({', '.join('.'.join(key) for key in gaps)})"
        )
    state = loader.project_state(nodes=sorted(ours), at_end=True)
    expected = {
        model._meta.db_table
        for model in state.apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model._meta.app_label in loader.migrated_apps
    }
    missing = sorted(expected - tables)
    if missing:
        raise BackupError(
            f"{path}: not a whole statusdash database: its migrations made tables it does not have "
            f"({', '.join(missing[:10])}{', …' if len(missing) > 10 else ''})"
        )
    return sorted(".".join(key) for key in set(loader.graph.nodes) - ours)


# --- What a database holds ---------------------------------------------------------------


def live_contents() -> Contents:
    """The live database's contents; tolerant of a broken one (a restore is how it gets fixed)."""
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        applied = (
            frozenset(MigrationRecorder(connection).applied_migrations())
            if "django_migrations" in tables
            else frozenset()
        )
        return read_contents(cursor, tables, applied)


def read_contents(cursor: Any, tables: set[str], applied: frozenset[tuple[str, str]]) -> Contents:
    """Counts through a DB-API cursor (Django's or sqlite3's): the table names are the models' own."""
    hosts_table, samples_table = Host._meta.db_table, MetricSample._meta.db_table

    def scalar(sql: str) -> Any:
        cursor.execute(sql)
        return cursor.fetchone()[0]

    has_samples = samples_table in tables
    return Contents(
        hosts=scalar(f'SELECT COUNT(*) FROM "{hosts_table}"') if hosts_table in tables else None,  # noqa: S608
        samples=scalar(f'SELECT COUNT(*) FROM "{samples_table}"') if has_samples else None,  # noqa: S608
        newest_sample=aware(scalar(f'SELECT MAX(collected_at) FROM "{samples_table}"')) if has_samples else None,  # noqa: S608
        migrations=applied,
    )


@contextmanager
def staged_copy(path: Path) -> Iterator[Path]:
    """A private copy of a SQLite file (and its `-wal`) among the backups, removed afterwards."""
    descriptor, name = tempfile.mkstemp(prefix="restoring-", suffix=".db", dir=backup_dir())
    os.close(descriptor)  # mkstemp made it 0600; copyfile keeps that mode
    staged = Path(name)
    companions = [Path(f"{staged}{suffix}") for suffix in ("-wal", "-shm", "-journal")]
    try:
        shutil.copyfile(path, staged)
        wal = Path(f"{path}-wal")
        if wal.is_file():
            # A database copied while in use has its newest pages here; SQLite folds them
            # in when the copy is opened (and ignores a -wal that is not this database's).
            shutil.copyfile(wal, companions[0])
        yield staged
    finally:
        for leftover in (staged, *companions):
            leftover.unlink(missing_ok=True)


def live_page_size() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA page_size")
        return int(cursor.fetchone()[0])


def read_sqlite(path: Path, staged: Path, page_size: int) -> tuple[Contents, set[str]]:
    db = sqlite3.connect(staged)
    try:
        # One self-contained file, like a backup: a copied -wal is folded in.
        db.execute("PRAGMA journal_mode=DELETE")
        if db.execute("PRAGMA page_size").fetchone()[0] != page_size:
            # The backup API cannot copy into a WAL database of another page size (it fails
            # with "attempt to write a readonly database"); a file from another SQLite build may differ.
            db.execute(f"PRAGMA page_size = {int(page_size)}")
            db.execute("VACUUM")
        result = db.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"{path}: damaged (SQLite's integrity check: {result})")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "django_migrations" not in tables:
            raise BackupError(f"{path}: not a statusdash database (no django_migrations table)")
        applied = frozenset(db.execute("SELECT app, name FROM django_migrations"))
        return read_contents(db.cursor(), tables, applied), tables
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorname", "") == "SQLITE_NOTADB":
            hint = "; a .dump is a PostgreSQL backup" if path.suffix == ".dump" else ""
            raise BackupError(f"{path}: not a SQLite database ({error}{hint})") from None
        raise BackupError(f"{path}: damaged or not a statusdash database ({error})") from None
    finally:
        db.close()


def read_pg_archive(path: Path) -> tuple[Contents, set[str], tuple[str, ...]]:
    """Read the whole archive once: its tables, migrations and counts, and proof that it is all readable."""
    try:
        listing = run_pg("pg_restore", "--list", str(path), database=False)
    except BackupError as error:
        raise BackupError(f"{path}: not a pg_dump archive ({error})") from None
    entries = [match.groups() for match in map(TOC_TABLE.match, listing.splitlines()) if match]
    tables = {name for _, name in entries}
    if "django_migrations" not in tables:
        raise BackupError(f"{path}: not a statusdash database (no django_migrations table)")
    schemas = tuple(sorted({schema for schema, _ in entries}))
    with tempfile.TemporaryFile() as errors:
        reader = subprocess.Popen(
            ["pg_restore", "--file=-", str(path)], stdout=subprocess.PIPE, stderr=errors, env=pg_environment()
        )
        assert reader.stdout is not None
        try:
            contents = scan_script(reader.stdout)
        finally:
            reader.stdout.close()
            status = reader.wait()
        if status != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()[-500:]
            raise BackupError(f"{path}: damaged or cut short (pg_restore: {message})")
    return contents, tables, schemas


def scan_script(lines: Iterable[bytes]) -> Contents:
    """Count the rows of the COPY blocks in pg_restore's SQL output that the summary needs."""
    hosts_table, samples_table = Host._meta.db_table.encode(), MetricSample._meta.db_table.encode()
    seen: dict[bytes, int] = {}
    applied: set[tuple[str, str]] = set()
    newest: datetime | None = None
    table, columns = None, []
    for line in lines:
        if table is None:
            if line.startswith(b"COPY "):
                name, _, rest = line[5:].partition(b" (")
                table = name.split(b".")[-1].strip(b'"')
                columns = [column.strip().strip(b'"') for column in rest.split(b")")[0].split(b",")]
                seen[table] = 0
            continue
        if line == b"\\.\n":
            table = None
            continue
        seen[table] += 1
        if table == b"django_migrations":
            values = dict(zip(columns, line.rstrip(b"\n").split(b"\t"), strict=False))
            applied.add((values[b"app"].decode(), values[b"name"].decode()))
        elif table == samples_table:
            value = line.split(b"\t")[columns.index(b"collected_at")]
            if value != b"\\N":
                collected = aware(datetime.fromisoformat(value.decode()))
                newest = collected if newest is None or (collected and collected > newest) else newest
    return Contents(
        hosts=seen.get(hosts_table),
        samples=seen.get(samples_table),
        newest_sample=newest,
        migrations=frozenset(applied),
    )


def load_pg_archive(path: Path, schemas: tuple[str, ...]) -> None:
    """Replace the live tables with the archive's in one transaction, committed only if all of it loaded.

    psql's own `--single-transaction` would commit whatever arrived if pg_restore died
    half way; here COMMIT is sent only once pg_restore has finished cleanly. The live
    tables are dropped first (not `pg_restore --clean`), so a table an older backup does
    not have goes too, and nothing of it is left to trip `migrate`.
    """
    env = pg_environment()
    literals = ", ".join(f"'{schema}'" for schema in schemas)  # identifiers only: see TOC_TABLE
    preamble = (
        "BEGIN;\n"  # noqa: S608
        f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s';\n"
        "DO $$DECLARE t record; BEGIN\n"
        f"  FOR t IN SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ({literals}) LOOP\n"
        "    EXECUTE format('DROP TABLE IF EXISTS %I.%I CASCADE', t.schemaname, t.tablename);\n"
        "  END LOOP;\n"
        "END$$;\n"
    )
    with tempfile.TemporaryFile() as load_errors, tempfile.TemporaryFile() as dump_errors:
        loader = subprocess.Popen(
            ["psql", "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", pg_database_argument()],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=load_errors,
            env=env,
        )
        dumper = subprocess.Popen(
            ["pg_restore", "--no-owner", "--file=-", str(path)], stdout=subprocess.PIPE, stderr=dump_errors, env=env
        )
        assert loader.stdin is not None and dumper.stdout is not None
        dumped = None
        try:
            loader.stdin.write(preamble.encode())
            shutil.copyfileobj(dumper.stdout, loader.stdin)
            dumped = dumper.wait()
            loader.stdin.write(b"COMMIT;\n" if dumped == 0 else b"ROLLBACK;\n")
            loader.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped at an error and rolled back; its status and message say which
        finally:
            if dumper.poll() is None:
                dumper.kill()
            dumper.wait()
            dumper.stdout.close()
        loaded = loader.wait()
        # pg_restore's failure first: psql may have choked on the half block it left.
        if dumped not in (None, 0):
            raise BackupError(f"pg_restore failed: {last_words(dump_errors)}; the live database is unchanged")
        if loaded != 0:
            message = last_words(load_errors)
            hint = " (is the hub still running? stop it first)" if "lock timeout" in message else ""
            raise BackupError(f"psql failed{hint}: {message}; the live database is unchanged")


# --- Small helpers -----------------------------------------------------------------------


def last_words(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace").strip()[-500:]


def aware(value: datetime | str | None) -> datetime | None:
    """A timestamp as a database hands it back (SQLite: naive UTC text) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def backup_time(path: Path) -> datetime:
    """When the backup was written: the time in its name, else when the file was last changed."""
    match = STAMP.match(path.name)
    if match:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def describe_live_database() -> str:
    if is_sqlite():
        return f"SQLite {sqlite_path()}"
    settings = connection.settings_dict
    return f"PostgreSQL {settings['NAME']} on {settings.get('HOST') or 'localhost'}"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def count(number: int | None) -> str:
    return "-" if number is None else f"{number:,}"
