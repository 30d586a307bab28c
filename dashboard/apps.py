from typing import Any

from django.apps import AppConfig

from alerts.signals import alerts_changed
from hosts.signals import host_changed
from services.signals import sentiment_changed


class DashboardConfig(AppConfig):
    """The UI: pages, cards, charts, sockets and the live pushes that redraw them."""

    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: live reads models, which load after the app registry.
        from dashboard import live

        # The domain apps announce changes; the dashboard decides what to redraw.
        def redraw_host(sender: Any, host_id: int, **kwargs: Any) -> None:
            live.host_updated(host_id)

        def redraw_alerts(sender: Any, **kwargs: Any) -> None:
            live.alerts_changed()

        def redraw_sentiment(sender: Any, **kwargs: Any) -> None:
            live.sentiment_changed()

        host_changed.connect(redraw_host, weak=False, dispatch_uid="dashboard.redraw_host")
        alerts_changed.connect(redraw_alerts, weak=False, dispatch_uid="dashboard.redraw_alerts")
        sentiment_changed.connect(redraw_sentiment, weak=False, dispatch_uid="dashboard.redraw_sentiment")
