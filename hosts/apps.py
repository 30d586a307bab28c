from typing import Any

from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save, pre_delete


class HostsConfig(AppConfig):
    name = "hosts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: they read models, which load after the app registry.
        from accounts.signals import user_disabled
        from audit.trail import track
        from hosts.auth import end_tokens_at_logout, end_tokens_at_password_change, end_tokens_of_disabled_user
        from hosts.identity import credentials_changed
        from hosts.models import ApiKey, Certificate, EnrollmentToken, Host

        # A key, host or certificate changed: cached identities are stale, here at once, elsewhere soon.
        for model in (ApiKey, Host, Certificate):
            for signal in (post_save, post_delete):
                signal.connect(credentials_changed, sender=model, dispatch_uid=f"identity-forget-{model.__name__}")

        # Deleting a host revokes its certificates: a new host of the same name must not inherit them.
        # pre_delete, not Host.delete(): the admin deletes selected hosts through the queryset.
        def revoke_certificates_of_deleted_host(sender: Any, instance: Host, **kwargs: Any) -> None:
            instance.revoke_certificates(f"host {instance.name} deleted")

        pre_delete.connect(
            revoke_certificates_of_deleted_host, sender=Host, weak=False, dispatch_uid="hosts-deleted-revoke"
        )

        # Logging out or a new password ends the user's API tokens (hosts/auth.py, TokenVersion).
        user_logged_out.connect(end_tokens_at_logout, dispatch_uid="tokens-end-at-logout")
        post_save.connect(end_tokens_at_password_change, sender=get_user_model(), dispatch_uid="tokens-end-password")

        # People's changes, in the audit trail. Only the fields a person sets: ingest's (last seen,
        # what the agent reports) are the system's, and their saves are not looked at.
        track(Host, fields=["name", "display_name", "description", "tags", "enabled", "agent_auto_update"])
        track(ApiKey, fields=["label", "scope", "host", "service", "prefix", "hashed", "revoked_at"])
        track(EnrollmentToken, fields=["host", "prefix", "hashed", "expires_at"])
        track(
            Certificate,
            fields=["kind", "serial", "common_name", "host", "not_after", "revoked_at", "revocation_reason"],
        )
        user_disabled.connect(end_tokens_of_disabled_user, dispatch_uid="tokens-end-disabled")
