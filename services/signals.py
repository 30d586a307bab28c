"""What the services app announces. Receivers are connected in their app's `ready()`."""

from django.dispatch import Signal

# A service changed status, so the overall sentiment may have. No kwargs.
# May be sent inside a transaction: receivers defer their work to commit.
sentiment_changed = Signal()
