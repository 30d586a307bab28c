"""`manage.py users add|list|role|disable|enable`: the people who use the dashboard and their roles."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from accounts import users
from accounts.roles import ROLES, UnknownRole
from audit.commands import AuditedCommand


class Command(AuditedCommand):
    help = "Add users with a role (viewer, operator, admin), list them, change a role, disable or enable one."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="add|list|role|disable|enable")
        add = actions.add_parser("add", help="add a user; prints a one-time set-password link")
        add.add_argument("name")
        add.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
        add.add_argument("--email", default="")
        add.add_argument(
            "--generate-password",
            action="store_true",
            help="print a generated password (once) instead of a set-password link",
        )
        actions.add_parser("list", help="every user: name, role, active, last login")
        role = actions.add_parser("role", help="change a user's role")
        role.add_argument("name")
        role.add_argument("role", help=f"one of {', '.join(ROLES)}")
        disable = actions.add_parser("disable", help="disable a user: their sessions, sockets and API tokens end")
        disable.add_argument("name")
        enable = actions.add_parser("enable", help="enable a disabled user again (they log in anew)")
        enable.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except (users.UserRefused, UnknownRole) as refused:
            raise CommandError(str(refused)) from None

    def do_add(self, options: dict[str, Any]) -> None:
        user, secret = users.add(options["name"], options["role"], options["email"], options["generate_password"])
        self.stdout.write(f"Added {user.get_username()} as {options['role']}.")
        if options["generate_password"]:
            self.stdout.write(f"Password (shown once, not stored): {secret}")
        else:
            self.stdout.write(f"Set-password link (works once): {secret}")

    def do_list(self, options: dict[str, Any]) -> None:
        rows = users.listing()
        width = max([len("name"), *(len(row.name) for row in rows)])
        self.stdout.write(f"{'name':<{width}}  {'role':<8}  {'active':<6}  last login")
        for row in rows:
            seen = row.last_login.strftime("%Y-%m-%d %H:%M UTC") if row.last_login else "never"
            active = "yes" if row.active else "no"
            self.stdout.write(f"{row.name:<{width}}  {row.role or '-':<8}  {active:<6}  {seen}")

    def do_role(self, options: dict[str, Any]) -> None:
        user = users.change_role(options["name"], options["role"])
        self.stdout.write(f"{user.get_username()} is now {options['role']}.")

    def do_disable(self, options: dict[str, Any]) -> None:
        user = users.disable(options["name"])
        self.stdout.write(f"Disabled {user.get_username()}: their sessions and API tokens ended.")

    def do_enable(self, options: dict[str, Any]) -> None:
        user = users.enable(options["name"])
        self.stdout.write(f"Enabled {user.get_username()}.")
