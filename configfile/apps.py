from django.apps import AppConfig


class ConfigfileConfig(AppConfig):
    """Configuration as code: `manage.py export` and `apply`, and /api/config. No models of its own."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "configfile"
    verbose_name = "configuration files"
