from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.backups import BackupError, restore_database


class Command(BaseCommand):
    help = "Replace the database with a backup, after checking the backup's integrity. Stop the hub first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A backup written by `manage.py backup`.")

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        try:
            safety = restore_database(file)
        except BackupError as error:
            raise CommandError(f"not restored: {error}") from None
        self.stdout.write(f"restored {file}; the replaced database was saved as {safety}")
