from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone

from hosts import agent_dist
from hosts.models import ApiKey, Certificate, EnrollmentToken, Host


def _live_certificates(host: Host) -> int:
    return host.certificates.clients().filter(revoked_at=None).count()


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "scope", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "scope", "label", "created_at", "last_used_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def expiry_text(cert: Certificate) -> str:
    days = cert.days_left()
    if cert.revoked_at:
        return "revoked"
    if days < 0:
        return "EXPIRED"
    return f"{days} days{' (renew soon)' if cert.expires_soon() else ''}"


class CertificateInline(admin.TabularInline):
    model = Certificate
    extra = 0
    fields = ("serial", "not_after", "expires", "revoked_at", "revocation_reason")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="expires in")
    def expires(self, cert: Certificate) -> str:
        return expiry_text(cert)


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "display_name",
        "enabled",
        "status_now",
        "last_seen",
        "os",
        "agent_version",
        "agent_auto_update",
    )
    list_filter = ("enabled", "agent_auto_update")
    search_fields = ("name", "display_name", "description")
    readonly_fields = (
        "first_seen",
        "last_seen",
        "os",
        "kernel",
        "arch",
        "cpu_count",
        "agent_version",
        "boot_time",
        "reported_hostname",
        "created_at",
    )
    inlines = [ApiKeyInline, CertificateInline]
    actions = ["create_agent_key", "make_enrollment_token", "update_agent", "stop_updating_agent"]

    @admin.display(description="status")
    def status_now(self, host: Host) -> str:
        return host.status()

    def save_model(self, request: HttpRequest, obj: Host, form: Any, change: bool) -> None:
        live_before = _live_certificates(obj) if change and "name" in form.changed_data else 0
        super().save_model(request, obj, form, change)
        if live_before:
            self.message_user(
                request,
                f"Renaming to {obj.name} revoked {live_before} certificate(s) issued for {form.initial['name']}: "
                f"enroll the agent again (Make an enrollment token) before it can report as {obj.name}.",
                messages.WARNING,
            )

    def delete_model(self, request: HttpRequest, obj: Host) -> None:
        self.delete_queryset(request, Host.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        revoked = sum(_live_certificates(host) for host in queryset)
        super().delete_queryset(request, queryset)
        if revoked:
            self.message_user(
                request,
                f"Deleting revoked {revoked} certificate(s): a new host of the same name needs a new enrollment.",
                messages.WARNING,
            )

    def has_add_apikey_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hosts.add_apikey")

    def has_add_enrollmenttoken_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hosts.add_enrollmenttoken")

    # Each action declares the permission it needs: the admin shows an action only to those who hold it.
    @admin.action(description="Create an agent API key (shown once)", permissions=["add_apikey"])
    def create_agent_key(self, request: HttpRequest, queryset: Any) -> None:
        for host in queryset:
            _, raw = ApiKey.issue("agent", host=host, label="created in admin")
            self.message_user(
                request, f"Agent key for {host.name} (copy it now, it is not shown again): {raw}", messages.WARNING
            )

    @admin.action(
        description="Make an enrollment token for `python -m agent enroll` (shown once)",
        permissions=["add_enrollmenttoken"],
    )
    def make_enrollment_token(self, request: HttpRequest, queryset: Any) -> None:
        for host in queryset:
            token, raw = EnrollmentToken.issue(host)
            self.message_user(
                request,
                f"Enrollment token for {host.name}, valid once until {token.expires_at:%Y-%m-%d %H:%M} UTC "
                f"(copy it now): python -m agent enroll --server {settings.PUBLIC_URL} --token {raw}",
                messages.WARNING,
            )

    @admin.action(
        description="Update the agent from the hub (now and at every new hub version)", permissions=["change"]
    )
    def update_agent(self, request: HttpRequest, queryset: Any) -> None:
        # save() per host rather than update(): the hub's cached agent identities follow a host change.
        hosts = list(queryset.filter(agent_auto_update=False))
        for host in hosts:
            host.agent_auto_update = True
            host.save(update_fields=["agent_auto_update"])
        self.message_user(
            request,
            f"{len(hosts)} host(s) marked: each agent older than {agent_dist.agent_version()} updates itself "
            "after its next report (agents installed with install.sh; others: install.sh --upgrade).",
        )

    @admin.action(description="Stop updating the agent from the hub", permissions=["change"])
    def stop_updating_agent(self, request: HttpRequest, queryset: Any) -> None:
        hosts = list(queryset.filter(agent_auto_update=True))
        for host in hosts:
            host.agent_auto_update = False
            host.save(update_fields=["agent_auto_update"])
        note = (
            " (AGENT_AUTO_UPDATE is on: the hub still offers every agent its version)"
            if settings.AGENT_AUTO_UPDATE
            else ""
        )
        self.message_user(request, f"{len(hosts)} host(s) no longer updated from the hub{note}.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "scope", "host", "service", "label", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", "revoked_at")
    search_fields = ("prefix", "label", "host__name", "service")
    fields = ("scope", "host", "service", "label", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A key's scope and owner are fixed once issued: issue a new key instead.
        if obj is not None:
            return (*self.readonly_fields, "scope", "host", "service")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = ApiKey.issue(obj.scope, host=obj.host, label=obj.label, service=obj.service)
        obj.pk = key.pk
        obj.refresh_from_db()
        self.message_user(request, f"New key (copy it now, it is not shown again): {raw}", messages.WARNING)

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset:
            key.revoke()
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    """Certificates are issued by `manage.py certs` or enrollment, never typed in: read-only but for revoking."""

    list_display = ("common_name", "kind", "serial", "not_after", "expires", "revoked_at", "revocation_reason")
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("common_name", "serial", "fingerprint")
    readonly_fields = [f.name for f in Certificate._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="expires in", ordering="not_after")
    def expires(self, cert: Certificate) -> str:
        return expiry_text(cert)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        # Certificates are read-only here (has_change_permission is False), but revoking is a change.
        return request.user.has_perm("hosts.change_certificate")

    @admin.action(description="Revoke selected certificates (rewrites the CRL)", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        revoked = sum(cert.revoke("revoked in admin") for cert in queryset)
        self.message_user(request, f"Revoked {revoked} certificate(s).")


@admin.register(EnrollmentToken)
class EnrollmentTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "host", "created_at", "expires_at", "used_at", "usable")
    search_fields = ("prefix", "host__name")
    readonly_fields = ("prefix", "host", "created_at", "expires_at", "used_at", "certificate")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # use the host's "Make an enrollment token" action: the secret is shown only then

    @admin.display(boolean=True)
    def usable(self, token: EnrollmentToken) -> bool:
        return token.used_at is None and token.expires_at > timezone.now()
