from typing import Any

from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save

from accounts.signals import role_changed
from alerts.signals import alerts_changed
from checks.signals import check_updated
from hosts.signals import host_changed
from services.signals import sentiment_changed


class DashboardConfig(AppConfig):
    """The UI: pages, cards, charts, sockets and the live pushes that redraw them."""

    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: both read models, which load after the app registry.
        from dashboard import live
        from hosts.auth import saving_a_new_password

        # The domain apps announce changes; the dashboard decides what to redraw.
        def redraw_host(sender: Any, host_id: int, **kwargs: Any) -> None:
            live.host_updated(host_id)

        def redraw_alerts(sender: Any, **kwargs: Any) -> None:
            live.alerts_changed()

        def redraw_sentiment(sender: Any, **kwargs: Any) -> None:
            live.sentiment_changed()

        def redraw_check(sender: Any, check_id: int, **kwargs: Any) -> None:
            live.check_updated(check_id)

        check_updated.connect(redraw_check, weak=False, dispatch_uid="dashboard.redraw_check")
        host_changed.connect(redraw_host, weak=False, dispatch_uid="dashboard.redraw_host")
        alerts_changed.connect(redraw_alerts, weak=False, dispatch_uid="dashboard.redraw_alerts")
        sentiment_changed.connect(redraw_sentiment, weak=False, dispatch_uid="dashboard.redraw_sentiment")

        # A socket stays open after its page loads: end it when its session or user ends.
        def close_session_sockets(sender: Any, request: Any, **kwargs: Any) -> None:
            session_key = getattr(getattr(request, "session", None), "session_key", None)
            if session_key:
                live.session_ended(session_key)

        def close_user_sockets(sender: Any, instance: Any, **kwargs: Any) -> None:
            if not instance.is_active or saving_a_new_password(instance):
                live.user_sessions_ended(instance.pk)

        def close_sockets_at_role_change(sender: Any, user_id: int, **kwargs: Any) -> None:
            live.user_sessions_ended(user_id)  # the pages reconnect, with the new role's rights

        role_changed.connect(close_sockets_at_role_change, weak=False, dispatch_uid="dashboard.close_role_sockets")
        user_logged_out.connect(close_session_sockets, weak=False, dispatch_uid="dashboard.close_session_sockets")
        post_save.connect(
            close_user_sockets, sender=get_user_model(), weak=False, dispatch_uid="dashboard.close_user_sockets"
        )
