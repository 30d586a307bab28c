"""python manage.py export [--only rules,channels,…] > statusdash.yaml"""

from __future__ import annotations

import os
import shlex
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from configfile.exporting import export_with_secrets
from configfile.kinds import KINDS


class Command(BaseCommand):
    help = "Write the hub's configuration (hosts, rules, channels, checks, silences) as YAML, secrets as ${ENV} references."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", help=f"comma-separated kinds, among {','.join(KINDS)} (default: all)")
        parser.add_argument(
            "--secrets-file",
            help="also write the referenced secrets' values to this file (NAME='value' lines, mode 0600), "
            "to rebuild another hub; keep it out of git",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kinds = [kind.strip() for kind in options["only"].split(",") if kind.strip()] if options["only"] else None
        try:
            text, secrets = export_with_secrets(kinds)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if options["secrets_file"]:
            lines = "".join(f"# {s.about}\n{s.variable}={shlex.quote(s.value)}\n" for s in secrets)
            try:
                # Created private: it holds every channel's URL and every check's password.
                fd = os.open(options["secrets_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(lines)
            except OSError as error:
                raise CommandError(f"cannot write {options['secrets_file']}: {error}") from None
        self.stdout.write(text, ending="")
