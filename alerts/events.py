"""What other parts hear when an alert changes: the design's domain events, a log line, a live push.

`alert_triggered` and `alert_resolved` are Django signals (sender=Alert, kwargs
alert and transition), sent after the transition's transaction commits, so a
receiver sees the stored row. The log line carries the design's event name:
SYSTEM_ALERT_TRIGGERED / SYSTEM_ALERT_RESOLVED.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.dispatch import Signal

from statusdash import live

if TYPE_CHECKING:
    from alerts.models import Alert, AlertTransition, Silence

log = logging.getLogger("statusdash.alerts")

alert_triggered = Signal()
alert_resolved = Signal()

SYSTEM_ALERT_TRIGGERED = "SYSTEM_ALERT_TRIGGERED"
SYSTEM_ALERT_RESOLVED = "SYSTEM_ALERT_RESOLVED"


def transition_recorded(transition: AlertTransition) -> None:
    alert = transition.alert
    if transition.kind in ("triggered", "resolved"):
        triggered = transition.kind == "triggered"
        signal = alert_triggered if triggered else alert_resolved
        fields = {
            "event": SYSTEM_ALERT_TRIGGERED if triggered else SYSTEM_ALERT_RESOLVED,
            "alert_id": alert.pk,
            "rule": alert.rule,
            "host": alert.host.name if alert.host else "",
            "subject": alert.subject,
            "severity": alert.severity,
            "alert_message": alert.message,
        }

        def emit() -> None:
            log.info(fields["event"], extra=fields)
            signal.send_robust(sender=type(alert), alert=alert, transition=transition)

        transaction.on_commit(emit)
    alert_changed(alert)


def alert_changed(alert: Alert) -> None:
    """Redraw what shows this alert: its host's card and page, and alert lists."""
    if alert.host_id is not None:
        live.host_updated(alert.host_id)
    live.alerts_changed()


def silence_changed(silence: Silence) -> None:
    """Redraw the cards of the hosts a silence covers, and alert lists."""
    for host in silence.covered_hosts():
        live.host_updated(host.pk)
    live.alerts_changed()
