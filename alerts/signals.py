"""What the alerts app announces. Receivers are connected in their app's `ready()`."""

from django.dispatch import Signal

# An alert fired, resolved, was acknowledged or silenced, or a silence changed. No kwargs.
# May be sent inside a transaction: receivers defer their work to commit.
alerts_changed = Signal()
