from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.backups import BackupError, backup_database


class Command(BaseCommand):
    help = "Write a consistent copy of the database to DATA_DIR/backups/databases/ and keep the newest N."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--keep", type=int, help="How many backups to keep (default BACKUP_KEEP).")

    def handle(self, *args: Any, keep: int | None = None, **options: Any) -> None:
        if keep is not None and keep < 1:
            raise CommandError("--keep must be at least 1")
        try:
            path = backup_database(keep=keep)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"backup written: {path} ({path.stat().st_size} bytes)")
