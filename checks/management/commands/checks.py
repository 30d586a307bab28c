"""python manage.py checks add|list|run|remove: manage service checks from the shell."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from audit.commands import AuditedCommand
from checks import runners
from checks.models import Check, CheckKind


class Command(AuditedCommand):
    help = "Add, list, run and remove service checks (HTTP, TCP, ping, DNS, TLS, Nagios plugins)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a check")
        add.add_argument("kind", choices=CheckKind.values)
        add.add_argument("target", help="URL, host:port, host, DNS name or plugin path, by kind")
        add.add_argument("--name", required=True)
        add.add_argument("--interval", type=int, default=60, help="seconds between runs (20 to 86400)")
        add.add_argument("--timeout", type=float, default=10, help="seconds per run")
        add.add_argument("--retries", type=int, default=1, help="failures tolerated before it counts as down")
        add.add_argument("--runs-on", default="hub", help="hub, a host's name, or tag:TAG")
        add.add_argument("--tag", action="append", default=[], dest="tags", help="a tag (repeatable)")
        add.add_argument("--public", action="store_true", help="show it on /status/")
        add.add_argument("--disabled", action="store_true")
        http = add.add_argument_group("http")
        http.add_argument("--method")
        http.add_argument("--expect-status", type=int, action="append", help="an expected status (repeatable)")
        http.add_argument("--keyword", help="text the body must contain")
        http.add_argument("--keyword-absent", action="store_true", help="the keyword must NOT appear")
        http.add_argument("--json-path", help="dotted path into a JSON body, e.g. status or checks.0.state")
        http.add_argument("--json-expected", help="the value expected at --json-path")
        http.add_argument("--no-follow-redirects", action="store_true")
        http.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
        http.add_argument("--username")
        http.add_argument("--password")
        http.add_argument("--bearer-token")
        dns = add.add_argument_group("dns")
        dns.add_argument("--record-type")
        dns.add_argument("--expect", help="an answer that must be among the records")
        dns.add_argument("--resolver", help="ip or ip:port of the resolver to ask")
        tls = add.add_argument_group("tls")
        tls.add_argument("--warn-days", type=int)
        tls.add_argument("--critical-days", type=int)
        tls.add_argument("--no-verify", action="store_true", help="check the expiry of an untrusted certificate")
        plugin = add.add_argument_group("plugin")
        plugin.add_argument("--arg", action="append", default=[], help="a plugin argument (repeatable; --arg=-H)")
        sub.add_parser("list", help="list checks with their state")
        run = sub.add_parser("run", help="run a check once now and print the result (stored like any run)")
        run.add_argument("name")
        remove = sub.add_parser("remove", help="remove a check and its results")
        remove.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"do_{options['action']}")(options)

    def do_add(self, options: dict[str, Any]) -> None:
        check = Check()
        changes = {
            "name": options["name"],
            "kind": options["kind"],
            "target": options["target"],
            "interval": options["interval"],
            "timeout": options["timeout"],
            "retries": options["retries"],
            "runs_on": options["runs_on"],
            "tags": options["tags"],
            "public": options["public"],
            "enabled": not options["disabled"],
            "options": kind_options(options),
            "username": options["username"] or "",
            "password": options["password"] or "",
            "bearer_token": options["bearer_token"] or "",
        }
        try:
            with transaction.atomic():
                check.apply_changes(changes)
        except ValidationError as error:
            raise CommandError(describe(error)) from None
        self.stdout.write(f"Added {check.kind} check {check.name} ({check.target}), every {check.interval} s")

    def do_list(self, options: dict[str, Any]) -> None:
        self.stdout.write(f"{'NAME':<30} {'KIND':<7} {'STATE':<9} {'LATENCY':>9} {'RUNS ON':<16} TARGET")
        for check in Check.objects.select_related("host"):
            latency = f"{check.last_latency_ms:.0f} ms" if check.last_latency_ms is not None else "-"
            state = check.state if check.enabled else "disabled"
            self.stdout.write(
                f"{check.name:<30} {check.kind:<7} {state:<9} {latency:>9} {check.runs_on:<16} {check.target}"
            )

    def do_run(self, options: dict[str, Any]) -> None:
        check = find(options["name"])
        result = check.record(runners.run(check))
        latency = f" in {result.latency_ms:.1f} ms" if result.latency_ms is not None else ""
        self.stdout.write(f"{check.name}: {result.state}{latency}: {result.message}")
        self.stdout.write(f"state now {check.state} ({check.consecutive_failures} failures in a row)")

    def do_remove(self, options: dict[str, Any]) -> None:
        check = find(options["name"])
        check.delete()
        self.stdout.write(f"Removed {check.name}")


def find(ref: str) -> Check:
    try:
        return Check.objects.by_ref(ref)
    except Check.DoesNotExist:
        raise CommandError(f"no check {ref!r} (manage.py checks list)") from None


def kind_options(options: dict[str, Any]) -> dict[str, Any]:
    """The kind's options from the flags given (the model refuses those that do not fit the kind)."""
    chosen: dict[str, Any] = {
        "method": options["method"],
        "expect_status": options["expect_status"],
        "keyword": options["keyword"],
        "keyword_absent": options["keyword_absent"] or None,
        "json_path": options["json_path"],
        "json_expected": options["json_expected"],
        "follow_redirects": False if options["no_follow_redirects"] else None,
        "record_type": options["record_type"],
        "expected": options["expect"],
        "resolver": options["resolver"],
        "warn_days": options["warn_days"],
        "critical_days": options["critical_days"],
        "verify": False if options["no_verify"] else None,
        "args": options["arg"] or None,
    }
    if options["header"]:
        headers = {}
        for header in options["header"]:
            name, sep, value = header.partition(":")
            if not sep or not name.strip():
                raise CommandError(f"--header {header!r}: give NAME:VALUE")
            headers[name.strip()] = value.strip()
        chosen["headers"] = headers
    if options["kind"] == CheckKind.TLS and options["no_verify"]:
        chosen["verify"] = False
    return {key: value for key, value in chosen.items() if value is not None}


def describe(error: ValidationError) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
