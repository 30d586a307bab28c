"""Create the `admin` superuser from STATUS_ADMIN_PASSWORD if it does not exist (run at every start).

It is the first admin (in the admin role group, accounts.roles); more users come with `manage.py users add`.

The variable is the first password only: once the account exists, a password changed in the
dashboard, a deactivation or a lost superuser flag is the admins' decision, and a restart must
not undo it (`manage.py changepassword admin` resets a forgotten one).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.roles import ADMIN, set_role


class Command(BaseCommand):
    help = "Create the admin superuser with STATUS_ADMIN_PASSWORD if there is none; never changes an existing one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--generate-if-unset",
            action="store_true",
            help="embedded mode: without STATUS_ADMIN_PASSWORD, generate a password once and print it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        password = settings.STATUS_ADMIN_PASSWORD
        user = User.objects.filter(username="admin").first()
        if password and len(password) < 8:
            raise CommandError("STATUS_ADMIN_PASSWORD must be at least 8 characters")
        if user is not None:
            self.stdout.write("admin exists (left as it is; reset its password with `manage.py changepassword admin`)")
            return
        if password:
            set_role(User.objects.create_superuser("admin", "", password), ADMIN)
            self.stdout.write("Created user admin (password from STATUS_ADMIN_PASSWORD)")
            return
        if not options["generate_if_unset"]:
            raise CommandError("STATUS_ADMIN_PASSWORD is not set")
        password = secrets.token_urlsafe(12)
        set_role(User.objects.create_superuser("admin", "", password), ADMIN)
        self.stdout.write(f"Created user admin with generated password: {password}")
        self.stdout.write("It is shown once. Set STATUS_ADMIN_PASSWORD in .env to choose your own.")
