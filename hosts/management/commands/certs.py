"""python manage.py certs …: the hub's certificate authority from the shell.

Files go under VAULT_PATH/certs (see hosts/pki.py). Private keys are written with
mode 0600 and never printed; the CA key never leaves the hub.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from audit.commands import AuditedCommand
from hosts import pki, vault
from hosts.management.commands.apikey import ensure_host
from hosts.models import Certificate, CertificateRefused, EnrollmentToken, Host


class Command(AuditedCommand):
    help = "Manage the hub's certificate authority, server and agent certificates, and enrollment tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        init = sub.add_parser("init-ca", help="create the CA key and certificate")
        init.add_argument("--force", action="store_true", help="replace an existing CA (every certificate dies)")
        server = sub.add_parser("server", help="issue the hub's TLS server certificate")
        server.add_argument("--host", action="append", default=[], help="an extra DNS name or IP (repeatable)")
        client = sub.add_parser("client", help="issue an agent's client certificate (CN = host name)")
        client.add_argument("name")
        client.add_argument("--days", type=int, default=pki.CLIENT_DAYS)
        sub.add_parser("list", help="list issued certificates")
        revoke = sub.add_parser("revoke", help="revoke a host's certificates, or one by serial")
        revoke.add_argument("target", metavar="NAME|SERIAL")
        revoke.add_argument("--reason", default="")
        renew = sub.add_parser("renew", help="a new client certificate for a host, revoking the old ones")
        renew.add_argument("name")
        renew.add_argument("--days", type=int, default=pki.CLIENT_DAYS)
        verify = sub.add_parser("verify", help="check a certificate file against the CA, like openssl verify")
        verify.add_argument("file", type=Path)
        token = sub.add_parser("token", help="a one-time enrollment token for `python -m agent enroll`")
        token.add_argument("name")
        token.add_argument("--hours", type=int, default=EnrollmentToken.DEFAULT_HOURS)
        bootstrap = sub.add_parser("bootstrap", help="CA if absent, server certificate, a client per agent env file")
        bootstrap.add_argument("--agents", type=Path, default=Path(settings.BASE_DIR) / "agent" / "deploy")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "do_" + options["action"].replace("-", "_"))(options)
        except pki.CertificateProblem as problem:
            raise CommandError(str(problem)) from None

    def do_init_ca(self, options: dict[str, Any]) -> None:
        ca = vault.create_ca(force=options["force"])
        cert_path, key_path = pki.ca_paths()
        self.stdout.write(f"CA certificate: {cert_path}\nCA key (keep it here, mode 0600): {key_path}")
        self.stdout.write(f"SHA-256 fingerprint: {pki.fingerprint(ca.certificate)}")

    def do_server(self, options: dict[str, Any]) -> None:
        for name in options["host"]:
            if not _is_ip(name) and not SERVER_NAME.fullmatch(name):
                raise CommandError(f"--host {name!r} is not a DNS name or IP address")
        self.stdout.write(f"server certificate: {vault.issue_server_certificate(options['host'])}")

    def do_client(self, options: dict[str, Any]) -> None:
        host = self._host(options["name"], create=True)
        cert_path = vault.issue_client_files(host, _days(options["days"]))
        self.stdout.write(f"client certificate for {host.name}: {cert_path} (key beside it, mode 0600)")

    def do_list(self, options: dict[str, Any]) -> None:
        now = timezone.now()
        self.stdout.write(f"{'KIND':<7} {'CN':<30} {'SERIAL':<18} {'NOT AFTER':<17} {'DAYS LEFT':>9}  REVOKED")
        for cert in Certificate.objects.all():
            revoked = f"{cert.revoked_at:%Y-%m-%d %H:%M} {cert.revocation_reason}".strip() if cert.revoked_at else "-"
            self.stdout.write(
                f"{cert.kind:<7} {cert.common_name:<30} {cert.serial[:16]:<18} "
                f"{cert.not_after:%Y-%m-%d %H:%M} {cert.days_left(now):>9}  {revoked}"
            )

    def do_revoke(self, options: dict[str, Any]) -> None:
        target = options["target"].lower()
        certs = list(Certificate.objects.clients().filter(Q(common_name=target) | Q(serial=target), revoked_at=None))
        if not certs:
            raise CommandError(f"no unrevoked client certificate with CN or serial {options['target']!r}")
        for cert in certs:
            cert.revoke(options["reason"])
            self.stdout.write(f"revoked {cert.common_name} serial {cert.serial}")
        self.stdout.write(f"CRL written to {pki.crl_path()}")

    def do_renew(self, options: dict[str, Any]) -> None:
        host = self._host(options["name"], create=False)
        old = list(Certificate.objects.clients().filter(host=host, revoked_at=None))
        cert_path = vault.issue_client_files(host, _days(options["days"]))
        for cert in old:
            cert.revoke("superseded")
        self.stdout.write(f"renewed {host.name}: {cert_path}; {len(old)} older certificate(s) revoked")

    def do_verify(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        try:
            certificate = pki.load_certificate(path.read_bytes())
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}") from None
        except pki.CertificateProblem as problem:
            raise CommandError(f"{path}: {problem}") from None
        try:
            record = Certificate.objects.check_client(certificate)
        except CertificateRefused as refused:
            raise CommandError(f"{path}: verification failed: {refused}") from None
        host = Host.objects.filter(name=record.common_name).first()
        if host is None or not host.enabled:
            state = "is not a known host" if host is None else "is a disabled host"
            raise CommandError(f"{path}: verification failed: CN {record.common_name!r} {state}")
        self.stdout.write(
            f"{path}: OK (CN {record.common_name}, serial {record.serial}, expires "
            f"{record.not_after:%Y-%m-%d}, {record.days_left()} days left)"
        )

    def do_token(self, options: dict[str, Any]) -> None:
        host = self._host(options["name"], create=True)
        hours = options["hours"]
        if not 1 <= hours <= 24 * 30:
            raise CommandError("--hours must be between 1 and 720")
        token, raw = EnrollmentToken.issue(host, hours)
        self.stderr.write(
            f"Enrollment token for {host.name}, valid once until {token.expires_at:%Y-%m-%d %H:%M} UTC. "
            f"On the host: python -m agent enroll --server {settings.PUBLIC_URL} --token TOKEN"
        )
        self.stdout.write(raw)

    def do_bootstrap(self, options: dict[str, Any]) -> None:
        vault.ensure_ca()
        self.stdout.write(f"CA: {pki.ca_paths()[0]}\nserver certificate: {vault.ensure_server_certificate()}")
        for env_file in sorted(options["agents"].glob("*.env")):
            cert_path, _ = vault.ensure_client_files(self._host(env_file.stem, create=True))
            self.stdout.write(f"client certificate for {env_file.stem}: {cert_path}")

    def _host(self, name: str, *, create: bool) -> Host:
        if create:
            return ensure_host(name)
        host = Host.objects.filter(name=name).first()
        if host is None:
            raise CommandError(f"no host named {name!r}")
        return host


SERVER_NAME = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _days(days: int) -> int:
    if not 1 <= days <= 3650:
        raise CommandError("--days must be between 1 and 3650")
    return days
