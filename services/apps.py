from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = "Service health"

    def ready(self) -> None:
        # Imported here, not at the top: they read models, which load after the app registry.
        from hosts.models import Host
        from services.sentiment import forget_hosts

        # Adding, editing or deleting a host drops the sentiment's cached host snapshot at once.
        # Reports update last_seen with a bulk UPDATE and send no signal: the snapshot expires instead.
        post_save.connect(forget_hosts, sender=Host, dispatch_uid="sentiment-host-saved")
        post_delete.connect(forget_hosts, sender=Host, dispatch_uid="sentiment-host-deleted")
