"""Management commands a person runs to change things: their changes go in the audit trail."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand

from audit.context import running_command


def shell_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's): the number says who
        return f"uid {os.getuid()}"


class AuditedCommand(BaseCommand):
    """A command whose changes are recorded as "manage.py NAME (the shell's user)"."""

    def execute(self, *args: Any, **options: Any) -> Any:
        name = self.__module__.rsplit(".", 1)[-1]
        with running_command(f"manage.py {name} ({shell_user()})"):
            return super().execute(*args, **options)
