from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.rights import grant_role_permissions

        # Every app's migrate, not only accounts': an app's permissions exist only after its own.
        post_migrate.connect(grant_role_permissions, dispatch_uid="accounts.grant_role_permissions")

        # Imported here, not at the top: models load after the app registry.
        from django.contrib.auth import get_user_model

        from accounts.models import PersonalToken
        from audit.trail import track, track_many

        # Users and roles (a role is a group), in the audit trail. Not last_login: a log-in has its own row.
        user = get_user_model()
        track(
            user,
            fields=[
                "username",
                "email",
                "first_name",
                "last_name",
                "is_active",
                "is_staff",
                "is_superuser",
                "password",
            ],
        )
        track_many(user, "groups", name_of=lambda group: group.name)
        track(PersonalToken, fields=["user", "name", "scope", "prefix", "hashed", "expires_at", "revoked_at"])
