"""What checks announce to the layers above (the dashboard connects in its AppConfig.ready())."""

from django.dispatch import Signal

# A check stored a result, changed state or was edited: redraw its row and page. Args: check_id.
check_updated = Signal()
