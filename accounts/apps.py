from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.rights import grant_role_permissions

        # Every app's migrate, not only accounts': an app's permissions exist only after its own.
        post_migrate.connect(grant_role_permissions, dispatch_uid="accounts.grant_role_permissions")
