from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = "Service health"

    def ready(self) -> None:
        # Keeps the cached host summary of the sentiment current as hosts report.
        from services import sentiment

        sentiment.connect_host_signals()
