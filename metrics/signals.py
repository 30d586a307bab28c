"""What the metrics app announces. Receivers are connected in their app's `ready()`."""

from django.dispatch import Signal

# New samples were stored for a host, inside the ingest transaction (not after it):
# a receiver's writes (alert rows) share that transaction. kwargs: host, samples.
samples_stored = Signal()
