from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class HostsConfig(AppConfig):
    name = "hosts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: they read models, which load after the app registry.
        from hosts.identity import forget_cached_keys
        from hosts.models import ApiKey, Certificate, Host

        # A key, host or certificate changed in this process: its cached identity is stale at once.
        for model in (ApiKey, Host, Certificate):
            for signal in (post_save, post_delete):
                signal.connect(forget_cached_keys, sender=model, dispatch_uid=f"identity-forget-{model.__name__}")
