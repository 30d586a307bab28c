"""Create or update the `admin` superuser from STATUS_ADMIN_PASSWORD (run at every start)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Ensure the admin superuser exists; its password follows STATUS_ADMIN_PASSWORD."

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
        if not password:
            if user is not None:
                self.stdout.write("admin exists (password unchanged; set STATUS_ADMIN_PASSWORD to change it)")
                return
            if not options["generate_if_unset"]:
                raise CommandError("STATUS_ADMIN_PASSWORD is not set")
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            self.stdout.write(f"Created user admin with generated password: {password}")
            self.stdout.write("It is shown once. Set STATUS_ADMIN_PASSWORD in .env to choose your own.")
            return
        if user is None:
            User.objects.create_superuser("admin", "", password)
            self.stdout.write("Created user admin (password from STATUS_ADMIN_PASSWORD)")
        elif not user.check_password(password) or not user.is_superuser:
            user.set_password(password)
            user.is_superuser = user.is_staff = user.is_active = True
            user.save()
            self.stdout.write("Updated user admin (password from STATUS_ADMIN_PASSWORD)")
        else:
            self.stdout.write("admin is up to date")
