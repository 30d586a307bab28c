"""What the rest of the hub hears when an alert changes: a log line and the app's signals.

The log line carries the domain event's name (SYSTEM_ALERT_TRIGGERED /
SYSTEM_ALERT_RESOLVED, see docs/events.md) and is written once the transition
commits, so a log shipper never sees an alert that was rolled back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction

from alerts.signals import alerts_changed
from hosts.signals import host_changed

if TYPE_CHECKING:
    from alerts.models import Alert, AlertTransition, Silence

log = logging.getLogger("statusdash.alerts")

SYSTEM_ALERT_TRIGGERED = "SYSTEM_ALERT_TRIGGERED"
SYSTEM_ALERT_RESOLVED = "SYSTEM_ALERT_RESOLVED"


def transition_recorded(transition: AlertTransition) -> None:
    alert = transition.alert
    if transition.kind in ("triggered", "resolved"):
        fields = {
            "event": SYSTEM_ALERT_TRIGGERED if transition.kind == "triggered" else SYSTEM_ALERT_RESOLVED,
            "alert_id": alert.pk,
            "rule": alert.rule,
            "host": alert.host.name if alert.host else "",
            "service": alert.service,
            "subject": alert.subject,
            "severity": alert.severity,
            "alert_message": alert.message,
        }
        transaction.on_commit(lambda: log.info(fields["event"], extra=fields))
    alert_changed(alert)


def alert_changed(alert: Alert) -> None:
    """Announce a change to this alert: its host's card and page, and alert lists, show it."""
    if alert.host_id is not None:
        host_changed.send(sender=type(alert), host_id=alert.host_id)
    alerts_changed.send(sender=type(alert))


def silence_changed(silence: Silence) -> None:
    """Announce a change to a silence: the hosts it covers, and alert lists, show it."""
    for host in silence.covered_hosts():
        host_changed.send(sender=type(silence), host_id=host.pk)
    alerts_changed.send(sender=type(silence))
