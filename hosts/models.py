"""Hosts that report to the hub, and the API keys that identify agents and readers."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import connection, models
from django.utils import timezone

from audit import trail as audit_trail
from audit.models import AuditAction
from hosts import pki
from statusdash.lib.writelock import write_transaction

HOST_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}\Z")
HOST_NAME_VALIDATOR = RegexValidator(
    HOST_NAME_PATTERN,
    "A host name is 1 to 63 characters of lowercase letters, digits, '-' and '.', starting with a letter or digit.",
)


def validate_tags(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError("Tags must be a list of strings.")
    for tag in value:
        if not 1 <= len(tag) <= 40:
            raise ValidationError("Each tag must be 1 to 40 characters.")


class HostStatus(models.TextChoices):
    ONLINE = "online"
    STALE = "stale"
    OFFLINE = "offline"

    @classmethod
    def tally(cls, statuses: Iterable[str]) -> dict[str, int]:
        """Hosts per status, every status present (zero when none), as the API shows them."""
        counts = {status.value: 0 for status in cls}
        for status in statuses:
            counts[status] += 1
        return counts


def status_at(last_seen: datetime | None, now: datetime) -> str:
    """A host's status from its last report alone: for lists read as values, without models."""
    if last_seen is None:
        return HostStatus.OFFLINE
    age = (now - last_seen).total_seconds()
    interval = settings.REPORT_INTERVAL
    if age <= interval * settings.STALE_AFTER_INTERVALS:
        return HostStatus.ONLINE
    if age <= interval * settings.OFFLINE_AFTER_INTERVALS:
        return HostStatus.STALE
    return HostStatus.OFFLINE


class HostQuerySet(models.QuerySet["Host"]):
    def enabled(self) -> HostQuerySet:
        return self.filter(enabled=True)


def version_key(version: str) -> tuple[int, ...] | None:
    """1.2.10 as (1, 2, 10); None for what is not dotted numbers (a development build)."""
    parts = version.split(".")
    if not version or not all(part.isdigit() and len(part) <= 9 for part in parts):
        return None
    return tuple(int(part) for part in parts)


def version_older(version: str, than: str) -> bool:
    """True only when both are release numbers and `version` is the older: never a downgrade,
    never an agent whose version cannot be compared."""
    mine, theirs = version_key(version), version_key(than)
    return mine is not None and theirs is not None and mine < theirs


class Host(models.Model):
    # The agent's identity: the client certificate's CN, or the host an agent key is bound to.
    name = models.CharField(max_length=63, unique=True, validators=[HOST_NAME_VALIDATOR])
    display_name = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags])
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)

    # What the agent last said about the machine.
    os = models.CharField(max_length=200, blank=True)
    kernel = models.CharField(max_length=200, blank=True)
    arch = models.CharField(max_length=50, blank=True)
    cpu_count = models.PositiveIntegerField(null=True, blank=True)
    agent_version = models.CharField(max_length=50, blank=True)
    # Opt-in: the report's answer offers this host's agent the hub's version when it is older
    # (or every host's, with AGENT_AUTO_UPDATE).
    agent_auto_update = models.BooleanField(
        default=False, help_text="update this host's agent from the hub whenever the hub's version is newer"
    )
    boot_time = models.DateTimeField(null=True, blank=True)
    reported_hostname = models.CharField(max_length=255, blank=True)

    objects = HostQuerySet.as_manager()
    _stored_name: str | None = None  # the name as loaded from the database (see from_db)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        renamed_from = self._stored_name
        super().save(*args, **kwargs)
        if renamed_from is not None and renamed_from != self.name:
            # A certificate names its host by CN: the old name's certificates must not follow the row.
            self.revoke_certificates(f"host renamed from {renamed_from} to {self.name}")
        self._stored_name = self.name

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Host:
        host = super().from_db(db, field_names, values)
        host._stored_name = host.__dict__.get("name")  # to notice a rename in save()
        return host

    def revoke_certificates(self, reason: str) -> int:
        """Revoke every unrevoked client certificate issued for this host; how many were."""
        return sum(cert.revoke(reason) for cert in self.certificates.clients().filter(revoked_at=None))

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def wants_agent(self, hub_version: str, reported_version: str) -> bool:
        """Whether the agent that reported `reported_version` should update to the hub's."""
        if not (settings.AGENT_AUTO_UPDATE or self.agent_auto_update):
            return False
        return version_older(reported_version, hub_version)

    def status(self, now: datetime | None = None) -> str:
        """online while reports arrive on time, stale after a few missed, offline after more."""
        return status_at(self.last_seen, now or timezone.now())

    @classmethod
    def report_update(cls, host_id: int, system: dict[str, Any], cpu_count: int) -> tuple[str, list[Any]]:
        """The UPDATE a report makes to its host: last seen (and first seen, once) and what the
        agent says about the machine, as SQL and parameters. Ingest sends it inside a statement
        of its own (`metrics.models.MetricSample.store_batch`: with RETURNING, which tells it
        whether the row is still there, or joined to the sample's INSERT).

        Every report runs this, so it is one UPDATE built here: `QuerySet.update()`
        spent 0.9 ms of CPU building the statement against 0.1 ms running it. Values
        are still prepared by each field, exactly as the ORM would.
        """
        now = timezone.now()
        values: dict[str, Any] = {
            "last_seen": now,
            "os": system.get("os", "")[:200],
            "kernel": system.get("kernel", "")[:200],
            "arch": system.get("arch", "")[:50],
            "agent_version": system.get("agent_version", "")[:50],
            "reported_hostname": system.get("hostname", "")[:255],
            "cpu_count": cpu_count,
        }
        if system.get("boot_time"):
            values["boot_time"] = system["boot_time"]
        quote = connection.ops.quote_name
        fields = {field.name: field for field in cls._meta.concrete_fields}
        first_seen = fields["first_seen"]
        assignments = [f"{quote(first_seen.column)} = COALESCE({quote(first_seen.column)}, %s)"]
        params = [first_seen.get_db_prep_save(now, connection)]
        for name, value in values.items():
            field = fields[name]
            assignments.append(f"{quote(field.column)} = %s")
            params.append(field.get_db_prep_save(value, connection))
        # Only identifiers from this model and %s placeholders go into the text.
        sql = f"UPDATE {quote(cls._meta.db_table)} SET {', '.join(assignments)} WHERE {quote('id')} = %s"  # noqa: S608
        return sql, [*params, host_id]


class ApiKeyScope(models.TextChoices):
    AGENT = "agent", "agent (reports for one host)"
    READ = "read", "read (dashboard API)"
    SERVICE = "service", "service (health events)"


def hash_key(raw: str) -> str:
    # Keys are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def find(self, raw: str) -> ApiKey | None:
        """The key matching a presented secret, or None. Revoked keys are returned too."""
        if not raw.startswith("sd_") or len(raw) > 200:
            return None
        return self.select_related("host").filter(hashed=hash_key(raw)).first()


class ApiKey(models.Model):
    PREFIX_LENGTH = 11  # "sd_" plus 8 characters: enough to tell keys apart in a list

    label = models.CharField(max_length=100, blank=True)
    scope = models.CharField(max_length=10, choices=ApiKeyScope.choices)
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    service = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False)
    hashed = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="agent_keys_have_a_host",
                condition=~models.Q(scope="agent") | models.Q(host__isnull=False),
                violation_error_message="An agent key needs a host: it may only report for that host.",
            ),
        ]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.scope}{': ' + str(self.host) if self.host_id else ''})"

    @classmethod
    def issue(
        cls,
        scope: str,
        *,
        host: Host | None = None,
        label: str = "",
        service: str = "",
    ) -> tuple[ApiKey, str]:
        """Create a key and return it with its secret, which is not stored and shown only now."""
        raw = "sd_" + secrets.token_urlsafe(32)
        key = cls.objects.create(
            scope=scope,
            host=host,
            label=label,
            service=service,
            prefix=raw[: cls.PREFIX_LENGTH],
            hashed=hash_key(raw),
        )
        return key, raw

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        """Record use, at most once a minute, so busy agents don't write a row per report."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > timedelta(minutes=1):
            with write_transaction():
                ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


class CertificateKind(models.TextChoices):
    CA = "ca"
    SERVER = "server"
    CLIENT = "client"


class CertificateRefused(Exception):
    """A client certificate we do not accept; the message is the reason given to the agent."""


class CertificateQuerySet(models.QuerySet["Certificate"]):
    def clients(self) -> CertificateQuerySet:
        return self.filter(kind=CertificateKind.CLIENT)

    def check_client(self, certificate: x509.Certificate) -> Certificate:
        """The record of a presented client certificate, if it is ours, valid now and not revoked.

        This is the one verification every path uses: Daphne's TLS endpoint, nginx's
        forwarded header, `certs verify`. Raises CertificateRefused with the reason.
        """
        try:
            pki.check_signed_by_ca(certificate)
        except pki.CertificateProblem as problem:
            raise CertificateRefused(str(problem)) from None
        record = self.filter(fingerprint=pki.fingerprint(certificate)).select_related("host").first()
        if record is None:
            # Signed by our key but never recorded: a CA key used elsewhere, or a database restored from before.
            raise CertificateRefused(f"certificate serial {pki.serial_hex(certificate)} was not issued by this hub")
        if record.kind != CertificateKind.CLIENT:
            raise CertificateRefused(f"a {record.kind} certificate cannot identify an agent")
        if record.revoked_at is not None:
            reason = f" ({record.revocation_reason})" if record.revocation_reason else ""
            raise CertificateRefused(f"certificate was revoked at {record.revoked_at:%Y-%m-%d %H:%M} UTC{reason}")
        return record


class Certificate(models.Model):
    """Every certificate the hub's CA issued: what the admin lists, and what revocation marks."""

    kind = models.CharField(max_length=10, choices=CertificateKind.choices)
    serial = models.CharField(max_length=40, unique=True, help_text="Hexadecimal.")
    fingerprint = models.CharField(max_length=64, unique=True, help_text="SHA-256, hexadecimal.")
    common_name = models.CharField(max_length=255, db_index=True)
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="certificates")
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    issued_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=200, blank=True)
    pem = models.TextField(help_text="The certificate (public).")
    # The certificate whose agent asked for this one over mTLS (POST /api/agent/renew); it is
    # revoked the first time this one identifies the agent (supersede_predecessor).
    renewed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["common_name", "-not_after"]

    def __str__(self) -> str:
        return f"{self.kind} {self.common_name} ({self.serial[:12]})"

    @classmethod
    def record(
        cls,
        certificate: x509.Certificate,
        kind: str,
        host: Host | None = None,
        renewed_from: Certificate | None = None,
    ) -> Certificate:
        return cls.objects.create(
            kind=kind,
            serial=pki.serial_hex(certificate),
            fingerprint=pki.fingerprint(certificate),
            common_name=pki.common_name(certificate.subject) or "",
            host=host,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            pem=pki.cert_pem(certificate),
            renewed_from=renewed_from,
        )

    @classmethod
    def issue_client(
        cls, host: Host, public_key: pki.PublicKey, days: int | None = None, renewed_from: Certificate | None = None
    ) -> tuple[Certificate, x509.Certificate]:
        """Sign a client certificate whose CN is the host's name, and record it."""
        certificate = pki.CertificateAuthority.load().sign(
            public_key, host.name, server=False, days=days or pki.CLIENT_DAYS
        )
        return cls.record(certificate, CertificateKind.CLIENT, host, renewed_from), certificate

    def renew(self, csr_pem: str) -> Certificate:
        """A new client certificate for this one's host, for a CSR its agent made with a new key.

        The caller has identified the agent by this certificate (valid, unrevoked, its host
        enabled). This one stays valid until the new one is first used (supersede_predecessor),
        so an answer lost on the way leaves the agent with a working identity.
        """
        assert self.host is not None  # an identifying certificate has its host
        try:
            csr = pki.load_csr(csr_pem)
        except pki.CertificateProblem as problem:
            raise RenewalRefused(422, str(problem)) from None
        cn = pki.common_name(csr.subject)
        if cn != self.host.name:
            raise RenewalRefused(400, f"csr: CN {cn!r} is not this certificate's host {self.host.name!r}")
        key = cast(pki.PublicKey, csr.public_key())  # load_csr lets only RSA and ECDSA keys through
        if key == pki.load_certificate(self.pem).public_key():
            raise RenewalRefused(400, "csr: it holds the current certificate's key; renewal needs a new key")
        with write_transaction():
            # Revoked in another process since the agent was identified (identities are cached
            # for up to AUTH_CACHE_SECONDS): a revoked certificate must not mint its successor.
            if not Certificate.objects.select_for_update().filter(pk=self.pk, revoked_at=None).exists():
                raise RenewalRefused(403, "client certificate refused: it was revoked")
            record, _ = Certificate.issue_client(self.host, key, renewed_from=self)
        return record

    def supersede_predecessor(self) -> bool:
        """Revoke the certificate this one renewed, now that this one is in use. True if it was revoked now."""
        if self.renewed_from_id is None:
            return False
        predecessor = Certificate.objects.filter(pk=self.renewed_from_id, revoked_at=None).first()
        return predecessor is not None and predecessor.revoke(f"superseded by renewal {self.serial}")

    def days_left(self, now: datetime | None = None) -> int:
        return (self.not_after - (now or timezone.now())).days

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def expires_soon(self, now: datetime | None = None) -> bool:
        return self.days_left(now) < settings.CERT_EXPIRY_WARNING_DAYS

    def revoke(self, reason: str = "") -> bool:
        """Revoke and rewrite the CRL. False if it was already revoked."""
        # Conditional update: two admins revoking at once record one revocation time.
        changed = Certificate.objects.filter(pk=self.pk, revoked_at=None).update(
            revoked_at=timezone.now(), revocation_reason=reason[:200]
        )
        self.refresh_from_db(fields=["revoked_at", "revocation_reason"])
        if changed:
            # update() sends no signal; this one tells identity caches to forget the certificate.
            models.signals.post_save.send(sender=Certificate, instance=self, created=False, update_fields=None)
            # A person's revocation (the admin's, a host renamed or deleted); nothing without one.
            audit_trail.record(
                None,
                AuditAction.CHANGED,
                self,
                {"revoked_at": [None, self.revoked_at], "revocation_reason": ["", self.revocation_reason]},
            )
        revoked = Certificate.objects.exclude(revoked_at=None).values_list("serial", "revoked_at")
        pki.CertificateAuthority.load().write_crl([(int(serial, 16), at) for serial, at in revoked if at])
        return bool(changed)


def latest_client_certificates(hosts: list[Host]) -> dict[int, Certificate]:
    """Each host's newest unrevoked client certificate, for the host page and the expiry check."""
    latest: dict[int, Certificate] = {}
    for cert in Certificate.objects.clients().filter(host__in=hosts, revoked_at=None).order_by("not_after"):
        latest[cert.host_id] = cert  # type: ignore[index]  # ordered by not_after: the last one wins
    return latest


def certificate_days_left_if_expiring(hosts: list[Host], now: datetime) -> dict[int, int]:
    """Days left on each host's newest certificate, for hosts where that is within the warning."""
    latest = latest_client_certificates(hosts)
    return {host_id: cert.days_left(now) for host_id, cert in latest.items() if cert.expires_soon(now)}


class RenewalRefused(Exception):
    """A renewal CSR we refuse: status is the HTTP answer (422 names the csr field)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EnrollmentRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EnrollmentToken(models.Model):
    """A one-time secret that lets a new agent exchange a CSR for its client certificate."""

    DEFAULT_HOURS = 24

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="enrollment_tokens")
    prefix = models.CharField(max_length=ApiKey.PREFIX_LENGTH, editable=False)
    hashed = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    certificate = models.ForeignKey(Certificate, null=True, blank=True, on_delete=models.SET_NULL, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… for {self.host}"

    @classmethod
    def issue(cls, host: Host, hours: int = DEFAULT_HOURS) -> tuple[EnrollmentToken, str]:
        raw = "sde_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            host=host,
            prefix=raw[: ApiKey.PREFIX_LENGTH],
            hashed=hash_key(raw),
            expires_at=timezone.now() + timedelta(hours=hours),
        )
        return token, raw

    @classmethod
    def redeem(cls, raw: str, csr_pem: str) -> Certificate:
        """Sign the CSR for the token's host and use the token up, or refuse and change nothing."""
        token = cls.objects.select_related("host").filter(hashed=hash_key(raw)).first()
        if token is None:
            raise EnrollmentRefused(401, "unknown enrollment token")
        if token.used_at is not None:
            raise EnrollmentRefused(
                403, f"this enrollment token was already used at {token.used_at:%Y-%m-%d %H:%M} UTC"
            )
        if timezone.now() >= token.expires_at:
            raise EnrollmentRefused(403, f"this enrollment token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC")
        if not token.host.enabled:
            raise EnrollmentRefused(403, f"host {token.host.name!r} is disabled")
        try:
            csr = pki.load_csr(csr_pem)
        except pki.CertificateProblem as problem:
            raise EnrollmentRefused(422, f"csr: {problem}") from None
        cn = pki.common_name(csr.subject)
        if cn != token.host.name:
            raise EnrollmentRefused(400, f"csr: CN {cn!r} does not match the token's host {token.host.name!r}")
        with write_transaction():
            # Two agents racing with one token: only the update that still sees used_at=None wins.
            if not cls.objects.filter(pk=token.pk, used_at=None).update(used_at=timezone.now()):
                raise EnrollmentRefused(403, "this enrollment token was already used")
            key = cast(pki.PublicKey, csr.public_key())  # load_csr lets only RSA and ECDSA keys through
            record, _ = Certificate.issue_client(token.host, key)
            cls.objects.filter(pk=token.pk).update(certificate=record)
        return record


class CredentialGeneration(models.Model):
    """One row whose value changes with every change to a key, a certificate or a host.

    Each process keeps accepted credentials in memory (hosts/identity.py). A change made
    in another process (a management command, another web process) sets a new value in
    the change's own transaction, and every process compares it at most every
    CREDENTIAL_CHECK_SECONDS, so a revocation anywhere is honoured everywhere within that.
    The value is random, not a counter: a counter can come back to a number a process has
    already seen (a change rolled back, then another made), and that change would go unseen.
    """

    value = models.BigIntegerField(default=0)

    ROW = 1

    def __str__(self) -> str:
        return f"credential generation {self.value:x}"

    @classmethod
    def bump(cls) -> None:
        value = secrets.randbits(62)
        if not cls.objects.filter(pk=cls.ROW).update(value=value):
            cls.objects.update_or_create(pk=cls.ROW, defaults={"value": value})

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=cls.ROW).values_list("value", flat=True).first() or 0


class TokenVersion(models.Model):
    """The version of a user's API tokens: a token carries the version it was issued at.

    Logging out or changing the password bumps it, so every token issued before stops
    working at once instead of living out its `exp` (JWT_LIFETIME_SECONDS).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE)
    version = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"token version {self.version} of user {self.user_id}"

    @classmethod
    def of(cls, user_id: int) -> int:
        return cls.objects.filter(user_id=user_id).values_list("version", flat=True).first() or 0

    @classmethod
    def bump(cls, user_id: int) -> None:
        # An atomic increment: a logout and a password change at once both count.
        if not cls.objects.filter(user_id=user_id).update(version=models.F("version") + 1):
            cls.objects.get_or_create(user_id=user_id, defaults={"version": 1})
