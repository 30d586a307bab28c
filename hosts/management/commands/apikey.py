"""python manage.py apikey create|list|revoke: manage API keys from the shell."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from audit.commands import AuditedCommand
from hosts.models import ApiKey, ApiKeyScope, Host


class Command(AuditedCommand):
    help = "Create, list and revoke API keys. A new key is printed once, alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key")
        who = create.add_mutually_exclusive_group(required=True)
        who.add_argument("--host", help="an agent key for this host (created if missing)")
        who.add_argument("--read", metavar="LABEL", help="a read-only API key with this label")
        who.add_argument("--service", metavar="NAME", help="a key for a service sending health events")
        create.add_argument("--label", default="", help="a note to recognise the key by")
        sub.add_parser("list", help="list keys (never their secrets)")
        revoke = sub.add_parser("revoke", help="revoke a key by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"do_{options['action']}")(options)

    def do_create(self, options: dict[str, Any]) -> None:
        if options["host"]:
            host = ensure_host(options["host"])
            key, raw = ApiKey.issue(ApiKeyScope.AGENT, host=host, label=options["label"])
            what = f"agent key for host {host.name}"
        elif options["read"]:
            key, raw = ApiKey.issue(ApiKeyScope.READ, label=options["read"])
            what = f"read key {options['read']!r}"
        else:
            service = options["service"].strip()
            if not service or len(service) > 100:
                raise CommandError("--service must be 1 to 100 characters")
            key, raw = ApiKey.issue(ApiKeyScope.SERVICE, service=service, label=options["label"])
            what = f"service key for {service}"
        self.stderr.write(f"Created {what} ({key.prefix}…). It is shown once; store it now:")
        self.stdout.write(raw)

    def do_list(self, options: dict[str, Any]) -> None:
        rows = ApiKey.objects.select_related("host")
        self.stdout.write(f"{'PREFIX':<12} {'SCOPE':<8} {'OWNER':<30} {'LAST USED':<25} REVOKED")
        for key in rows:
            owner = key.host.name if key.host else (key.service or key.label)
            last = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
            revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-"
            self.stdout.write(f"{key.prefix:<12} {key.scope:<8} {owner:<30} {last:<25} {revoked}")

    def do_revoke(self, options: dict[str, Any]) -> None:
        prefix = options["prefix"].rstrip("…")
        matches = list(ApiKey.objects.filter(prefix__startswith=prefix)) if len(prefix) >= 6 else []
        if not matches:
            raise CommandError(f"no key starts with {prefix!r} (give at least 6 characters, as `apikey list` shows)")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} keys start with {prefix!r}; give more characters")
        matches[0].revoke()
        self.stdout.write(f"Revoked {matches[0].prefix}…")


def ensure_host(name: str) -> Host:
    host = Host.objects.filter(name=name).first()
    if host is not None:
        return host
    host = Host(name=name)
    try:
        host.full_clean()
    except ValidationError as error:
        raise CommandError(f"invalid host name {name!r}: {'; '.join(error.messages)}") from None
    host.save()
    return host
