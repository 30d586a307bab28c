"""python manage.py export [--only rules,channels,…] > statusdash.yaml"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from configfile.exporting import export
from configfile.kinds import KINDS


class Command(BaseCommand):
    help = "Write the hub's configuration (hosts, rules, channels, checks, silences) as YAML, secrets as ${ENV} references."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", help=f"comma-separated kinds, among {','.join(KINDS)} (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        kinds = [kind.strip() for kind in options["only"].split(",") if kind.strip()] if options["only"] else None
        try:
            self.stdout.write(export(kinds), ending="")
        except ValueError as error:
            raise CommandError(str(error)) from None
