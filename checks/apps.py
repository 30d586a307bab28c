from django.apps import AppConfig
from django.db.models.signals import post_delete


class ChecksConfig(AppConfig):
    name = "checks"
    verbose_name = "Service checks"

    def ready(self) -> None:
        # Imported here, not at the top: models load after the app registry.
        from audit.trail import track
        from checks import exposition, receivers, rollups, sentiment, status_page
        from checks.models import Check
        from metrics import rollups as metric_rollups
        from metrics.signals import check_results_reported

        # A deleted check will never resolve its own alert.
        post_delete.connect(sentiment.check_deleted, sender=Check, dispatch_uid="check-deleted")
        sentiment.register()
        # Agents' check results ride in their reports; metrics (below us) announces them.
        check_results_reported.connect(receivers.agent_results, dispatch_uid="checks-agent-results")
        # Results roll up in metrics' beat job, beside the samples (checks/rollups.py).
        metric_rollups.add_source(rollups.RESULTS)
        # Public checks are components of /status/.
        status_page.register()
        # People's changes to a check's configuration (not its state: the scheduler's, no one's).
        track(
            Check,
            fields=[
                *("name", "kind", "target", "interval", "timeout", "retries", "options", "tags", "public"),
                *("enabled", "host", "host_tag", "username", "password", "bearer_token"),
            ],
        )
        # Their state and latency in /metrics.
        exposition.register()
