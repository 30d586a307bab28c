"""python manage.py apply statusdash.yaml [--dry-run] [--prune]"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from audit.commands import AuditedCommand
from configfile.applying import apply_text


class Command(AuditedCommand):
    help = (
        "Make the hub match a configuration file: validate all of it, print the diff, apply it in one "
        "transaction. --prune also removes objects of the kinds the file lists that it does not name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the YAML (or JSON) file; - reads standard input")
        parser.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
        parser.add_argument("--prune", action="store_true", help="remove what the file's kinds do not name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["file"] == "-":
                text = sys.stdin.read()
            else:
                with open(options["file"], encoding="utf-8") as f:
                    text = f.read()
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {options['file']}: {error}") from None
        outcome = apply_text(text, dry_run=options["dry_run"], prune=options["prune"])
        if outcome.errors:
            for problem in outcome.errors:
                self.stderr.write(f"{options['file']}: {problem}")
            raise CommandError(f"{len(outcome.errors)} error(s); nothing was changed")
        self.stdout.write(outcome.diff())
        if outcome.dry_run and outcome.changes:
            self.stdout.write("(dry run: nothing was changed)")
