from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        from audit.trail import record_login, record_login_failure, record_logout

        user_logged_in.connect(record_login, dispatch_uid="audit:login")
        user_logged_out.connect(record_logout, dispatch_uid="audit:logout")
        user_login_failed.connect(record_login_failure, dispatch_uid="audit:login-failed")
