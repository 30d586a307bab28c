from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics import restore
from metrics.backups import BackupError

CONFIRMATION = "restore"


class Command(BaseCommand):
    help = (
        "Replace the live database with a backup: checks the file, shows what it holds against the live "
        "database, and asks first (or --yes). Stop the hub first."
    )
    stealth_options = ("stdin",)  # tests answer the question through a terminal of their own

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A backup written by `manage.py backup`.")
        parser.add_argument("--yes", action="store_true", help="Replace without asking (scripts).")

    def handle(self, *args: Any, file: Path, yes: bool, **options: Any) -> None:
        stdin = options.get("stdin") or sys.stdin
        try:
            with restore.prepare(file) as plan:
                self.stdout.write(plan.summary())
                if not yes:
                    self.confirm(stdin)
                safety = plan.apply()
        except BackupError as error:
            raise CommandError(f"not restored: {error}") from None
        self.stdout.write(f"restored {file}; the replaced database was saved as {safety}")
        if plan.to_migrate:
            self.stdout.write("run `manage.py migrate` (the hub does at start) to bring it up to this version")

    def confirm(self, stdin: IO[str]) -> None:
        if not stdin.isatty():
            raise CommandError("not restored: nothing changed. Run again with --yes to replace the live database.")
        self.stdout.write(f"\nType {CONFIRMATION!r} to replace the live database: ", ending="")
        self.stdout.flush()
        if stdin.readline().strip() != CONFIRMATION:
            raise CommandError("not restored: not confirmed; nothing changed")
