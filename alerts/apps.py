from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, once the app registry is ready (they import models).
        from django.db.models.signals import post_delete, post_save

        from alerts.evaluate import OPEN_ON_HOST, evaluate_stored, forget_rules, open_on_host_sql
        from alerts.models import AlertRule
        from metrics.signals import ask_with_each_report, samples_stored

        samples_stored.connect(evaluate_stored, dispatch_uid="alerts.evaluate_stored")
        track_in_audit_trail()
        ask_with_each_report(OPEN_ON_HOST, open_on_host_sql())
        post_save.connect(forget_rules, sender=AlertRule, dispatch_uid="alerts.forget_rules.save")
        post_delete.connect(forget_rules, sender=AlertRule, dispatch_uid="alerts.forget_rules.delete")


def track_in_audit_trail() -> None:
    """People's changes to rules, channels and silences (acknowledgements are recorded by Alert)."""
    from alerts.models import AlertRule, NotificationChannel, Silence
    from audit.trail import track, track_many

    track(AlertRule)
    track(NotificationChannel)  # its url holds the service's credentials: redacted by name
    track(Silence, fields=["tags", "services", "hub", "starts_at", "ends_at", "reason", "created_by"])
    track_many(Silence, "hosts")
