"""What the hosts app announces. Receivers are connected in their app's `ready()`.

A domain app never imports the dashboard: it sends one of these, and the
dashboard (which connected a receiver) decides what to redraw and when.
"""

from django.dispatch import Signal

# A host reported, changed status, or an alert or silence touching it changed.
# kwargs: host_id (int). May be sent inside a transaction: receivers defer their work to commit.
host_changed = Signal()
